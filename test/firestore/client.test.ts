import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Firestore } from "@google-cloud/firestore";
import { createFirestoreClient, type FirestoreClient, type FirestoreClientOptions, FirestoreErrorCode } from "../../src/adapters/firestore/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { PoolManager } from "../../src/manager/index.ts";
import { Emulator, freePort, PROJECT_ID } from "./emulator.ts";

const emulator = new Emulator();
const settings = { projectId: PROJECT_ID };

function client(options: FirestoreClientOptions = {}): Promise<FirestoreClient> {
	return createFirestoreClient({ settings, healthCheckIntervalMs: 0, ...options });
}

async function until(check: () => boolean, timeoutMs = 3_000): Promise<void> {
	const end = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > end) throw new Error("condition not met in time");
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

type Coded = Error & { code?: string; operation?: string; collection?: string; grpcStatus?: string };

describe("lifeguard/firestore against the Firestore emulator", () => {
	before(() => emulator.start());
	after(() => emulator.stop());

	describe("the seed's operations", () => {
		it("writes, reads, queries with filters, order and limit, batches and transactions as the driver does alone", async () => {
			await using managed = await client({ name: "fs-same" });
			const alone = new Firestore(settings);
			try {
				const rows = [3, 1, 4, 1, 5, 9, 2, 6].map((n, i) => ({ id: `d${i}`, n, tag: n % 2 === 0 ? "even" : "odd" }));
				for (const r of rows) await managed.setDocument("fs_lg_via", r.id, { n: r.n, tag: r.tag });
				for (const r of rows) await alone.collection("fs_alone").doc(r.id).set({ n: r.n, tag: r.tag });

				assert.deepEqual((await managed.getDocument("fs_lg_via", "d2")).data(), (await alone.collection("fs_alone").doc("d2").get()).data());
				assert.equal((await managed.getDocument("fs_lg_via", "missing")).exists, false);

				const viaQuery = await managed.queryDocuments("fs_lg_via", { where: [["tag", "==", "odd"]], orderBy: [["n", "desc"]], limit: 3 });
				const aloneQuery = await alone.collection("fs_alone").where("tag", "==", "odd").orderBy("n", "desc").limit(3).get();
				assert.deepEqual(
					viaQuery.docs.map((d) => [d.id, d.data()]),
					aloneQuery.docs.map((d) => [d.id, d.data()]),
				);
				assert.deepEqual(
					viaQuery.docs.map((d) => d.get("n")),
					[9, 5, 3],
				);

				await managed.batchWrite([
					{ op: "set", collection: "fs_lg_via", id: "b1", data: { n: 100 } },
					{ op: "update", collection: "fs_lg_via", id: "d0", data: { n: 30 } },
					{ op: "delete", collection: "fs_lg_via", id: "d1" },
				]);
				const batch = alone.batch();
				batch.set(alone.collection("fs_alone").doc("b1"), { n: 100 });
				batch.update(alone.collection("fs_alone").doc("d0"), { n: 30 });
				batch.delete(alone.collection("fs_alone").doc("d1"));
				await batch.commit();

				const bump = async (tx: FirebaseFirestore.Transaction, ref: FirebaseFirestore.DocumentReference) => {
					const doc = await tx.get(ref);
					tx.update(ref, { n: (doc.get("n") as number) + 1 });
					return doc.get("n") as number;
				};
				const seenVia = await managed.runTransaction((tx, db) => bump(tx, db.collection("fs_lg_via").doc("b1")), { collection: "fs_lg_via" });
				const seenAlone = await alone.runTransaction((tx) => bump(tx, alone.collection("fs_alone").doc("b1")));
				assert.equal(seenVia, seenAlone);

				const all = async (read: () => Promise<FirebaseFirestore.QuerySnapshot>) => (await read()).docs.map((d) => [d.id, d.data()]);
				assert.deepEqual(
					await all(() => managed.queryDocuments("fs_lg_via", { orderBy: "n" })),
					await all(() => alone.collection("fs_alone").orderBy("n").get()),
				);
				assert.equal((await managed.getDocument("fs_lg_via", "b1")).get("n"), 101);
			} finally {
				await alone.terminate();
			}
		});

		it("fails with a typed error naming the operation, the collection and the gRPC status", async () => {
			await using managed = await client();
			await managed.setDocument("fs_lg_err", "taken", { a: 1 });
			await assert.rejects(managed.batchWrite([{ op: "create", collection: "fs_lg_err", id: "taken", data: { a: 2 } }]), (error: Coded) => {
				assert.equal(error.code, FirestoreErrorCode.FIRESTORE_OPERATION_FAILED);
				assert.equal(error.operation, "batch");
				assert.equal(error.collection, "fs_lg_err");
				assert.equal(error.grpcStatus, "ALREADY_EXISTS");
				assert.match(error.message, /batch on "fs_lg_err" failed \(ALREADY_EXISTS\)/);
				return true;
			});
			await assert.rejects(
				managed.batchWrite([{ op: "update", collection: "fs_lg_err", id: "absent", data: { a: 2 } }]),
				(error: Coded) => error.grpcStatus === "NOT_FOUND",
			);
			const stats = managed.stats().operations;
			assert.equal(stats.byKind.batch.failed, 2);
			assert.equal(stats.errorsByStatus.ALREADY_EXISTS, 1);
			assert.equal(stats.errorsByStatus.NOT_FOUND, 1);
			assert.equal(managed.stats().channels.destroyedByReason.error, 0, "the caller's errors leave the channel alone");
		});

		it("settles an operation at its deadline with FIRESTORE_TIMEOUT", async () => {
			await using managed = await client();
			const started = performance.now();
			await assert.rejects(
				managed.runTransaction(
					async (tx, db) => {
						await tx.get(db.collection("fs_lg_slow").doc("x"));
						await new Promise((resolve) => setTimeout(resolve, 600));
					},
					{ timeoutMs: 150, collection: "fs_lg_slow" },
				),
				(error: Coded) => error.code === FirestoreErrorCode.FIRESTORE_TIMEOUT && error.collection === "fs_lg_slow" && error.operation === "transaction",
			);
			assert.ok(performance.now() - started < 500, "settled near its deadline");
			assert.equal(managed.stats().operations.errorsByStatus.DEADLINE_EXCEEDED, 1);
		});

		it("retries a transaction the driver's way: a contended attempt runs again, up to maxAttempts", async () => {
			await using managed = await client();
			await managed.setDocument("fs_lg_tx", "c", { n: 0 });
			let attempts = 0;
			await assert.rejects(
				managed.runTransaction(
					async () => {
						attempts++;
						throw Object.assign(new Error("contention"), { code: 10 });
					},
					{ maxAttempts: 3, collection: "fs_lg_tx" },
				),
				(error: Coded) => error.grpcStatus === "ABORTED",
			);
			assert.equal(attempts, 3, "the driver retried ABORTED up to maxAttempts");
		});
	});

	describe("the channel pool", () => {
		it("opens min channels on start, each proven by a health read", async () => {
			await using managed = await client({ min: 2, max: 4 });
			await managed.start();
			const s = managed.stats().channels;
			assert.equal(s.total, 2);
			assert.equal(s.created, 2);
			assert.equal(s.idle, 2);
		});

		it("spreads overlapping operations over the min channels and opens more only when each carries maxInFlightPerChannel, never more than max", async () => {
			await using spread = await client({ min: 2, max: 4 });
			await spread.start();
			await Promise.all(Array.from({ length: 20 }, (_, i) => spread.setDocument("fs_lg_spread", `s${i}`, { i })));
			assert.equal(spread.stats().channels.peak.active, 2);
			assert.equal(spread.stats().channels.total, 2);

			await using crowded = await client({ min: 1, max: 3, maxInFlightPerChannel: 2 });
			await crowded.start();
			await Promise.all(Array.from({ length: 30 }, (_, i) => crowded.getDocument("fs_lg_spread", `s${i % 20}`)));
			const s = crowded.stats().channels;
			assert.equal(s.peak.active, 3);
			assert.ok(s.peak.total <= 3);
			assert.equal(crowded.stats().operations.byKind.get.ok, 30);
		});

		it("hands idle channels back and closes those above min after idleTimeoutMs", async () => {
			await using managed = await client({ min: 1, max: 3, maxInFlightPerChannel: 1, idleTimeoutMs: 200 });
			await managed.start();
			await Promise.all(Array.from({ length: 6 }, (_, i) => managed.setDocument("fs_lg_idle", `i${i}`, { i })));
			assert.ok(managed.stats().channels.peak.total >= 2);
			await until(() => managed.stats().held === 0 && managed.stats().channels.total === 1, 5_000);
			assert.ok(managed.stats().channels.destroyedByReason.idle >= 1);
		});

		it("counts operations by kind with latency histograms and nothing left in flight", async () => {
			await using managed = await client();
			await managed.setDocument("fs_lg_stats", "a", { v: 1 });
			await managed.getDocument("fs_lg_stats", "a");
			await managed.queryDocuments("fs_lg_stats", { limit: 1 });
			const ops = managed.stats().operations;
			assert.deepEqual([ops.byKind.write.ok, ops.byKind.get.ok, ops.byKind.query.ok], [1, 1, 1]);
			assert.equal(ops.byKind.get.latencyMs.count, 1);
			assert.ok(ops.byKind.get.latencyMs.max > 0);
			assert.equal(ops.inFlight, 0);
		});
	});

	describe("health and recovery", () => {
		it("reads the health document within its deadline", async () => {
			await using managed = await client({ healthCheck: { document: "fs_lg_health/probe" } });
			const health = await managed.health();
			assert.equal(health.ok, true);
			assert.equal(managed.stats().operations.byKind.health.ok, 1);
		});

		it("refuses a health document path that names a collection, listing every problem", async () => {
			await assert.rejects(
				client({ healthCheck: { document: "only-a-collection" }, operationTimeoutMs: -1 }),
				(error: Error & { code?: string; problems?: { path: string }[] }) => {
					assert.equal(error.code, ErrorCode.CONFIG_INVALID);
					assert.deepEqual(
						error.problems?.map((p) => p.path),
						["healthCheck", "operationTimeoutMs"],
					);
					return true;
				},
			);
		});

		it("fails by the deadline while the emulator is down, and serves again right after it restarts, on new channels", async () => {
			await using managed = await client({ min: 1, max: 2, healthTimeoutMs: 300 });
			await managed.start();
			await managed.setDocument("fs_lg_restart", "a", { v: 1 });
			emulator.stop();
			try {
				const started = performance.now();
				await assert.rejects(managed.getDocument("fs_lg_restart", "a", { timeoutMs: 400 }), (error: Coded) =>
					[FirestoreErrorCode.FIRESTORE_TIMEOUT, FirestoreErrorCode.FIRESTORE_OPERATION_FAILED].includes(error.code as never),
				);
				await assert.rejects(managed.health(), (error: Coded) => error.code?.startsWith("FIRESTORE_") === true);
				assert.ok(performance.now() - started < 1_500, "both settled by their deadlines");
			} finally {
				await emulator.start();
			}
			const back = performance.now();
			await managed.setDocument("fs_lg_restart", "a", { v: 2 }, { timeoutMs: 5_000 });
			assert.equal((await managed.getDocument("fs_lg_restart", "a")).get("v"), 2);
			assert.ok(performance.now() - back < 3_000, `recovered in ${Math.round(performance.now() - back)} ms`);
			const s = managed.stats();
			assert.ok(s.channels.destroyedByReason.error >= 1, "the stuck channel was retired");
			assert.ok((s.operations.errorsByStatus.DEADLINE_EXCEEDED ?? 0) + (s.operations.errorsByStatus.UNAVAILABLE ?? 0) >= 2);
		});
	});

	describe("a backend that is down from the start", () => {
		it("fails an operation by its deadline with FIRESTORE_TIMEOUT carrying the pool's timeout, never hanging, and serves once the backend comes up", async () => {
			const previous = process.env.FIRESTORE_EMULATOR_HOST;
			const late = new Emulator();
			late.port = await freePort();
			// Nothing listens there yet: every channel's health read fails and the core retries with backoff.
			process.env.FIRESTORE_EMULATOR_HOST = `127.0.0.1:${late.port}`;
			try {
				await using down = await client({ min: 0, max: 2, healthTimeoutMs: 200, createTimeoutMs: 300 });
				const started = performance.now();
				await assert.rejects(down.getDocument("fs_lg_down", "x", { timeoutMs: 700 }), (error: Coded & { cause?: Error }) => {
					assert.equal(error.code, FirestoreErrorCode.FIRESTORE_TIMEOUT);
					assert.match(error.message, /no channel could be had in time/);
					assert.equal((error.cause as Coded | undefined)?.code, ErrorCode.POOL_TIMEOUT);
					return true;
				});
				assert.ok(performance.now() - started < 1_500, "settled by its deadline");
				assert.ok(down.stats().channels.createFailures >= 1);
				// The backend comes up: the driver's own retries of the abandoned reads settle, and the client serves.
				await late.start();
				assert.equal((await down.getDocument("fs_lg_down", "x", { timeoutMs: 10_000 })).exists, false);
				// Time for the driver's own retries of the abandoned reads to succeed, so that their instances are
				// terminated now rather than when the driver would give up on a down backend (about 45 s here).
				await new Promise((resolve) => setTimeout(resolve, 3_000));
			} finally {
				late.stop();
				process.env.FIRESTORE_EMULATOR_HOST = previous;
			}
		});
	});

	describe("under the manager", () => {
		it("lists the channel pool in the health report under kind firestore", async () => {
			await using manager = new PoolManager();
			manager.add(await client({ name: "seed-firestore", min: 2 }));
			await manager.start();
			const report = manager.health();
			assert.equal(report.clients["seed-firestore"].kind, "firestore");
			assert.equal(report.pools["seed-firestore/channels"].status, "healthy");
			assert.equal(report.pools["seed-firestore/channels"].size.total, 2);
		});
	});
});
