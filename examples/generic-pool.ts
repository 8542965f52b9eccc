/**
 * generic-pool code running on lifeguard: the only change is the import.
 *   before: import genericPool from "generic-pool";
 *   after:  import genericPool from "lifeguard/compat/generic-pool";
 * Run: npx node examples/generic-pool.ts
 */
import genericPool from "../src/compat/generic-pool.ts";

/** Stands in for a database client: opening takes a few milliseconds, queries echo. */
class FakeClient {
	static opened = 0;
	readonly id = ++FakeClient.opened;
	async query(sql: string): Promise<string> {
		await new Promise((resolve) => setTimeout(resolve, 5));
		return `client ${this.id} ran: ${sql}`;
	}
	async end(): Promise<void> {}
}

const factory = {
	create: async () => {
		await new Promise((resolve) => setTimeout(resolve, 10));
		return new FakeClient();
	},
	destroy: (client: FakeClient) => client.end(),
};

// Unchanged generic-pool code from here on.
const pool = genericPool.createPool(factory, { max: 2, min: 1, acquireTimeoutMillis: 1_000, priorityRange: 2 });
pool.on("factoryCreateError", (err) => console.error("create failed:", err));
await pool.ready();
console.log(`ready: size ${pool.size}, available ${pool.available}`);

const client = await pool.acquire();
console.log(await client.query("select 1"));
await pool.release(client);

// With both clients busy, queued callers are served by priority: 0 before 1, first come first served within one.
const busy = await Promise.all([pool.acquire(), pool.acquire()]);
const served: Promise<void>[] = [1, 1, 0, 0].map((priority, i) =>
	pool.use(async (c) => console.log(await c.query(`select ${i} -- priority ${priority}`)), priority),
);
for (const c of busy) await pool.release(c);
await Promise.all(served);

// What generic-pool could not tell you: the lifeguard pool underneath.
const stats = pool.core.stats();
console.log(
	`acquires ${stats.acquires.ok}, created ${stats.created}, reuse ${Math.round(stats.reuseRatio * 100)}%, p99 wait ${Math.round(stats.waitMs.p99)} ms`,
);

await pool.drain();
await pool.clear();

// Where lifeguard differs on purpose: a create that keeps failing backs off (no busy loop), and a
// caller fails at acquireTimeoutMillis with the create error as its cause.
const down = genericPool.createPool(
	{
		create: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432")),
		destroy: () => {},
	},
	{ acquireTimeoutMillis: 300 },
);
let failures = 0;
down.on("factoryCreateError", () => failures++);
try {
	await down.acquire();
} catch (err) {
	const error = err as Error;
	console.log(`${error.name}: ${error.message} (cause: ${(error.cause as Error).message}; ${failures} create attempts, not thousands)`);
}
await down.drain();
await down.clear();
