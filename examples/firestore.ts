/**
 * A pool of Firestore channels: seed 004's numbers (min 2, max 10, idle 300 s, health every
 * 60 s), its operations (get a document, query with filters, batched writes) with deadlines and
 * typed errors, a transaction, and the statistics.
 * Run: npx node examples/firestore.ts
 * It starts the Firestore emulator from npm (@firestore-emulator/server) unless
 * FIRESTORE_EMULATOR_HOST already points at one; without either it talks to real Firestore.
 */
import { createFirestoreClient, FirestoreOperationError } from "../src/adapters/firestore/index.ts";
import { Emulator, PROJECT_ID } from "../test/firestore/emulator.ts";

const emulator = process.env.FIRESTORE_EMULATOR_HOST === undefined ? new Emulator() : undefined;
await emulator?.start();

const firestore = await createFirestoreClient({
	name: "catalog",
	settings: { projectId: process.env.GCLOUD_PROJECT ?? PROJECT_ID },
	min: 2,
	max: 10,
	idleTimeoutMs: 300_000,
	healthCheckIntervalMs: 60_000,
	healthCheck: { document: "_health/probe" },
	operationTimeoutMs: 5_000,
});
await firestore.start();

await firestore.batchWrite(
	["lamp", "desk", "chair", "shelf"].map((name, i) => ({ op: "set" as const, collection: "products", id: name, data: { name, price: 20 + i * 15, stock: i } })),
);
const lamp = await firestore.getDocument("products", "lamp");
console.log("lamp:", lamp.data());

const affordable = await firestore.queryDocuments("products", { where: [["price", "<", 60]], orderBy: [["price", "desc"]], limit: 2 });
console.log(
	"affordable:",
	affordable.docs.map((d) => d.id),
);

// The driver's transaction semantics: on contention it runs the function again.
const left = await firestore.runTransaction(
	async (tx, db) => {
		const ref = db.collection("products").doc("chair");
		const chair = await tx.get(ref);
		tx.update(ref, { stock: (chair.get("stock") as number) - 1 });
		return (chair.get("stock") as number) - 1;
	},
	{ collection: "products" },
);
console.log("chairs left:", left);

try {
	await firestore.batchWrite([{ op: "create", collection: "products", id: "lamp", data: { name: "lamp" } }]);
} catch (error) {
	if (error instanceof FirestoreOperationError) {
		console.log(`typed error ${error.code}: ${error.operation} on ${error.collection}: ${error.grpcStatus}`);
	} else throw error;
}

console.log("health:", (await firestore.health()).ok);
const { channels, operations } = firestore.stats();
console.log(`channels: ${channels.total} open (min ${channels.min}, max ${channels.max}), peak in use ${channels.peak.active}`);
for (const [kind, s] of Object.entries(operations.byKind))
	if (s.ok + s.failed > 0) console.log(`  ${kind}: ${s.ok} ok, ${s.failed} failed, p50 ${s.latencyMs.p50.toFixed(1)} ms`);
console.log("errors by gRPC status:", operations.errorsByStatus);

await firestore.close();
emulator?.stop();
