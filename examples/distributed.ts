/**
 * A connection budget shared through Redis: two "processes" (two budgets with their own ids, in
 * one script for the example) each run a pool of max 8 under a shared limit of 6. The first
 * borrows what the second does not use and gives it back when the second needs it. Then a
 * shared rate limit of 5 requests per second, and adaptive sizing of a pool.
 * Needs Redis on 127.0.0.1:6379. Run: npx node examples/distributed.ts
 */
import { randomBytes } from "node:crypto";
import { adaptPoolSize, SharedBudget, SharedRateLimit } from "../src/distributed/index.ts";
import { createPool } from "../src/index.ts";

const redis = "redis://127.0.0.1:6379";
const keyPrefix = `lifeguard:example:${randomBytes(3).toString("hex")}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const budgets = ["api-1", "api-2"].map((processId) => new SharedBudget({ redis, keyPrefix, resource: "orders-db", limit: 6, ttlMs: 2_000, processId }));
let nextId = 0;
const pools = budgets.map((budget, i) =>
	// In a real service: createPool({ …, budget }) around pg or mysql2 connections.
	createPool({ name: `orders@api-${i + 1}`, max: 8, budget, create: () => ({ id: ++nextId }) }),
);
const [one, two] = pools as [(typeof pools)[0], (typeof pools)[0]];

const held = await Promise.all(Array.from({ length: 6 }, () => one.acquire({ timeoutMs: 3_000 })));
console.log(`api-1 alone holds ${one.size} connections (budget 6, fair share ${budgets[0]?.stats().share}, borrowed ${budgets[0]?.stats().borrowed})`);

const wanted = Promise.all(Array.from({ length: 3 }, () => two.acquire({ timeoutMs: 5_000 })));
await sleep(100);
for (const lease of held.slice(0, 3)) lease.release(); // api-1 owes 3 slots: these connections close instead of going idle
const got = await wanted;
console.log(`api-2 got its share back: api-1 ${one.size}, api-2 ${two.size}, together ${one.size + two.size} ≤ 6`);
for (const lease of [...held.slice(3), ...got]) lease.release();

const limit = new SharedRateLimit({ redis, keyPrefix, name: "llm", requestsPerWindow: 5, windowMs: 1_000 });
const started = performance.now();
for (let i = 0; i < 7; i++) await limit.take("openai-key-1", { timeoutMs: 2_000 });
console.log(`7 calls under 5 per second took ${Math.round(performance.now() - started)} ms (the 6th waited for the window)`);

const sized = createPool({ name: "adaptive", max: 2, create: () => ({ id: ++nextId }) });
sized.on("poolResized", ({ from, to, reason }) => console.log(`  resized ${from.max} → ${to.max}: ${reason.split(" (")[0]}`));
const sizer = adaptPoolSize(sized, { floor: 2, ceiling: 12, intervalMs: 100 });
await Promise.all(
	Array.from({ length: 10 }, async () => {
		for (let i = 0; i < 20; i++) {
			const lease = await sized.acquire();
			await sleep(10);
			lease.release();
		}
	}),
);
console.log(`adaptive pool ended at max ${sized.options.max}`);
sizer.stop();

await Promise.all([...pools, sized].map((p) => p.close()));
await Promise.all([...budgets, limit].map((b) => b.close()));
