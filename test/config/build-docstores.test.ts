/**
 * createPools() with the MongoDB and Firestore builders: a YAML config with one pool of each
 * builds real clients against the MongoDB wire-protocol test server and the Firestore emulator,
 * each in the manager's health report and doing one real operation; the environment overrides
 * the file.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FirestoreClient } from "../../src/adapters/firestore/index.ts";
import type { ManagedMongoClient } from "../../src/adapters/mongodb/index.ts";
import { createPools, explain, formatExplanation, loadConfig } from "../../src/config/index.ts";
import { Emulator, PROJECT_ID } from "../firestore/emulator.ts";
import { MongoWireServer } from "../mongodb/server.ts";

const PASSWORD = "mongo-wiring-s3cret";
const emulator = new Emulator();
const mongo = new MongoWireServer();
let mongoUrl = "";

before(async () => {
	await emulator.start();
	mongoUrl = await mongo.start();
});
after(async () => {
	emulator.stop();
	await mongo.stop();
});

const yaml = () => `
pools:
  docs:
    kind: mongodb
    url: \${MONGO_URL}
    max: 4
    healthCheckIntervalMs: 0
    driverOptions:
      serverSelectionTimeoutMS: 2000
  store:
    kind: firestore
    min: 1
    max: 3
    healthCheckIntervalMs: 0
    settings:
      projectId: ${PROJECT_ID}
`;

describe("createPools() builds MongoDB and Firestore clients of a YAML config", () => {
	it("puts a real client of each in the manager; each is in health() and does one real operation", async () => {
		const config = loadConfig({ yaml: yaml(), env: { MONGO_URL: mongoUrl } });
		await using manager = await createPools(config, { start: true });
		assert.deepEqual(manager.list(), ["docs", "store"]);
		const health = manager.health();
		assert.equal(health.clients.docs.kind, "mongodb");
		assert.equal(health.clients.store.kind, "firestore");
		assert.ok(Object.keys(health.clients.docs.pools).length > 0);
		assert.ok(Object.keys(health.clients.store.pools).length > 0);

		const docs = manager.client<ManagedMongoClient>("docs");
		await docs.collection("config_wiring", "app").insertOne({ n: 1 });
		assert.equal((await docs.collection("config_wiring", "app").find({}).toArray()).length, 1);
		const servers = Object.values(docs.stats().pools);
		assert.ok(servers.length > 0 && servers.every((pool) => pool.max === 4), "max reached the driver's maxPoolSize");

		const store = manager.client<FirestoreClient>("store");
		await store.setDocument("config_wiring", "d1", { n: 1 });
		assert.deepEqual((await store.getDocument("config_wiring", "d1")).data(), { n: 1 });
	});

	it("LIFEGUARD_POOLS__* overrides the file; explain() hides the URL's password", async () => {
		const url = mongoUrl.replace("mongodb://", `mongodb://app:${PASSWORD}@`);
		const config = loadConfig({ yaml: yaml(), env: { MONGO_URL: url, LIFEGUARD_POOLS__STORE__MAX: "5", LIFEGUARD_POOLS__DOCS__MAX: "6" } });
		assert.equal(config.sources["pools.store.max"], "env LIFEGUARD_POOLS__STORE__MAX");
		assert.equal((config.pools.docs as { max: number }).max, 6, "over the file's 4");
		assert.ok(!formatExplanation(explain(config)).includes(PASSWORD));
		const firestoreOnly = { ...config, pools: { store: config.pools.store } };
		await using manager = await createPools(firestoreOnly);
		assert.equal(manager.stats()[Object.keys(manager.stats())[0]].max, 5, "the Firestore client runs with the variable's max");
	});
});
