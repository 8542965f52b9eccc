/**
 * Operation throughput through lifeguard vs the driver alone, on the same server, 16 concurrent
 * callers alternating a write and a read, contenders interleaved round by round:
 * - MongoDB (the wire-protocol test server in its own process): lifeguard's managed client
 *   (the driver's own pool, watched through CMAP events) vs a bare `MongoClient` with the same
 *   pool options.
 * - Firestore (the npm emulator in its own process): lifeguard's channel pool (min 2 channels,
 *   operations spread by least in-flight work, a deadline and statistics on each) vs one bare
 *   `Firestore` instance (the driver's own gRPC client pool).
 * Both servers are in-memory stand-ins, so the figures measure the client side's overhead, not
 * what a real mongod or Firestore would sustain.
 */
import type { Firestore as FirestoreType } from "@google-cloud/firestore";
import { MongoClient } from "mongodb";
import { createFirestoreClient } from "../src/adapters/firestore/index.ts";
import { createMongoClient } from "../src/adapters/mongodb/index.ts";
import { startChild } from "./child-process.ts";
import { median } from "./rounds.ts";

const CALLERS = 16;
const ROUNDS = 5;
const MONGO_OPS = 10_000;
const FIRESTORE_OPS = 2_000;
const KEYS = 100;
const server = new URL("docstores-server.ts", import.meta.url).pathname;

interface Contender {
	name: string;
	write(i: number): Promise<unknown>;
	read(i: number): Promise<unknown>;
	close(): Promise<void>;
}

async function throughput(c: Contender, ops: number): Promise<number> {
	let started = 0;
	const t0 = performance.now();
	const loop = async () => {
		while (started < ops) {
			const i = started++;
			if (i % 2 === 0) await c.write(i);
			else await c.read(i);
		}
	};
	await Promise.all(Array.from({ length: CALLERS }, loop));
	return ops / ((performance.now() - t0) / 1000);
}

async function compare(contenders: Contender[], ops: number): Promise<Record<string, unknown>> {
	const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
	const ratios: number[] = [];
	for (const c of contenders) await throughput(c, Math.ceil(ops / 5));
	for (let round = 0; round < ROUNDS; round++) {
		const perRound: number[] = [];
		for (const c of contenders) {
			const r = await throughput(c, ops);
			samples.get(c.name)?.push(r);
			perRound.push(r);
		}
		ratios.push(perRound[0] / perRound[1]);
	}
	await Promise.all(contenders.map((c) => c.close()));
	return {
		opsPerSec: Object.fromEntries(contenders.map((c) => [c.name, Math.round(median(samples.get(c.name) ?? []))])),
		lifeguardVsDriver: Math.round(median(ratios) * 100) / 100,
	};
}

async function mongo(): Promise<Record<string, unknown>> {
	const child = await startChild([server, "mongo"], /listening on (\d+)/);
	try {
		const url = `mongodb://127.0.0.1:${child.match[1]}/`;
		const seed = new MongoClient(url);
		await seed
			.db("bench")
			.collection("items")
			.insertMany(Array.from({ length: KEYS }, (_, k) => ({ k, v: k })));
		await seed.close();
		const managed = await createMongoClient({ url, name: "bench-mongo", max: CALLERS, healthCheckIntervalMs: 0 });
		await managed.start();
		const alone = new MongoClient(url, { maxPoolSize: CALLERS });
		await alone.connect();
		const on = (client: MongoClient, name: string): Contender => ({
			name,
			write: (i) => client.db("bench").collection(`sink_${name}`).insertOne({ i }),
			read: (i) =>
				client
					.db("bench")
					.collection("items")
					.findOne({ k: i % KEYS }),
			close: () => client.close(),
		});
		const result = await compare([{ ...on(managed.driver, "lifeguard"), close: () => managed.close() }, on(alone, "driver")], MONGO_OPS);
		return { ...result, ops: MONGO_OPS, callers: CALLERS };
	} finally {
		await child.stop();
	}
}

async function firestore(): Promise<Record<string, unknown>> {
	const child = await startChild([server, "firestore"], /listening on (\d+)/);
	const previous = process.env.FIRESTORE_EMULATOR_HOST;
	process.env.FIRESTORE_EMULATOR_HOST = `127.0.0.1:${child.match[1]}`;
	process.env.METADATA_SERVER_DETECTION = "none";
	try {
		const settings = { projectId: "lifeguard-bench" };
		const managed = await createFirestoreClient({ name: "bench-firestore", settings, min: 2, max: 10, healthCheckIntervalMs: 0 });
		await managed.start();
		const { Firestore } = await import("@google-cloud/firestore");
		const alone: FirestoreType = new Firestore(settings);
		await alone.collection("items").doc("warm").get();
		const result = await compare(
			[
				{
					name: "lifeguard",
					write: (i) => managed.setDocument("items_lg", `k${i % KEYS}`, { i }),
					read: (i) => managed.getDocument("items_lg", `k${i % KEYS}`),
					close: () => managed.close(),
				},
				{
					name: "driver",
					write: (i) =>
						alone
							.collection("items_alone")
							.doc(`k${i % KEYS}`)
							.set({ i }),
					read: (i) =>
						alone
							.collection("items_alone")
							.doc(`k${i % KEYS}`)
							.get(),
					close: () => alone.terminate(),
				},
			],
			FIRESTORE_OPS,
		);
		return { ...result, ops: FIRESTORE_OPS, callers: CALLERS };
	} finally {
		if (previous === undefined) delete process.env.FIRESTORE_EMULATOR_HOST;
		else process.env.FIRESTORE_EMULATOR_HOST = previous;
		await child.stop();
	}
}

export const name = "docstores";

export async function run(): Promise<Record<string, unknown>> {
	return { mongodb: await mongo(), firestore: await firestore() };
}
