/**
 * lifeguard's structured logs: a pool whose backend fails once, a leak, stats lines, through a
 * JSON logger on stdout here (LIFEGUARD_LOG_LEVEL=debug sends the same to stderr without code).
 * Run: npx node examples/logging.ts
 */
import { setTimeout as sleep } from "node:timers/promises";
import { PoolManager } from "../src/manager/manager.ts";
import { attachLogger, createJsonLogger } from "../src/observe/logging/index.ts";

let attempts = 0;
const manager = new PoolManager();
const pool = manager.create("orders", {
	create: () => {
		// The first attempt fails the way a database that is still starting does.
		if (++attempts === 1) throw new Error("connect ECONNREFUSED postgres://app:example-password@127.0.0.1:5432/app");
		return { id: attempts };
	},
	createRetryInitialMs: 20,
	leakDetectionMs: 50,
});
const logger = createJsonLogger({ level: "debug", stream: process.stdout });
const handle = attachLogger(manager, { logger, statsIntervalMs: 100 });

const lease = await pool.acquire();
await sleep(120); // held past leakDetectionMs: logged with the borrower's stack, then a stats line
lease.release();
await manager.close();
handle.detach();
