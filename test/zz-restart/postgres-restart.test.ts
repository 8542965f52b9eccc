/**
 * A full PostgreSQL restart under a live client. Run alone: it stops the shared server, and
 * always starts it again (after hook), waiting until it answers, even when a test fails.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { createPostgresClient } from "../../src/adapters/postgres/index.ts";
import type { SqlClient } from "../../src/adapters/sql/types.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { appName, eventually, serverOptions, watchCrashes } from "../postgres/helpers.ts";
import { requireService } from "../support/services.ts";

const run = promisify(execFile);
const VERSION = readdirSync("/etc/postgresql")[0];

async function cluster(action: "start" | "stop"): Promise<void> {
	const args = ["--skip-systemctl-redirect", VERSION, "main", action];
	if (action === "stop") args.push("-m", "fast");
	await run("pg_ctlcluster", args, { timeout: 30_000 });
}

/** Resolves once the server accepts connections again. */
async function waitUntilUp(): Promise<void> {
	const up = await eventually(
		() =>
			requireService("postgres", 500).then(
				() => true,
				() => false,
			),
		20_000,
		50,
	);
	if (!up) throw new Error("PostgreSQL did not come back within 20 s");
}

describe("postgres: full server restart", () => {
	let db: SqlClient;

	before(async () => {
		await requireService("postgres");
		db = createPostgresClient({ primary: serverOptions(appName("restart")), pool: { min: 2, max: 4, acquireTimeoutMs: 1_000 } });
		await db.start();
	});

	after(async () => {
		try {
			await cluster("start");
		} catch {
			// Already running: fine.
		}
		await waitUntilUp();
		await db?.close();
	});

	it("in-flight statements fail with CONNECTION_LOST, waiters fail at their deadline while it is down, and acquires succeed within 2 s of its return", async () => {
		const crashes = watchCrashes();
		try {
			const running = db.query("SELECT pg_sleep(10)").catch((e: { code: string }) => e.code);
			await new Promise((r) => setTimeout(r, 100));
			await cluster("stop");
			assert.equal(await running, ErrorCode.CONNECTION_LOST);
			// The idle connections were told by the server, and dropped.
			assert.ok(await eventually(() => db.stats().primary.idle === 0, 2_000), JSON.stringify(db.stats().primary));

			// While it is down: every waiter fails at its own deadline, not later.
			const deadlines = [300, 700, 1_000];
			const outcomes = await Promise.all(
				deadlines.map(async (timeoutMs) => {
					const started = performance.now();
					const error = (await db.acquire({ timeoutMs }).then(
						(conn) => {
							conn.release();
							return undefined;
						},
						(e) => e,
					)) as (Error & { code: string }) | undefined;
					return { timeoutMs, error, waited: performance.now() - started };
				}),
			);
			for (const { timeoutMs, error, waited } of outcomes) {
				assert.equal(error?.code, ErrorCode.POOL_TIMEOUT, `deadline ${timeoutMs}`);
				assert.ok(waited >= timeoutMs - 5 && waited < timeoutMs + 1_000, `deadline ${timeoutMs} ms, failed after ${Math.round(waited)} ms`);
				assert.match(String((error as { cause?: Error }).cause?.message), /ECONNREFUSED|terminat|shut/i);
			}
			const queryStarted = performance.now();
			await assert.rejects(db.query("SELECT 1"), { code: ErrorCode.POOL_TIMEOUT });
			// acquireTimeoutMs is 1 s; the alternative is waiting with no end.
			assert.ok(performance.now() - queryStarted < 2_500);

			await cluster("start");
			await waitUntilUp();
			const back = performance.now();
			assert.deepEqual(await db.query("SELECT 1 AS ok", [], { fetch: "one" }), { ok: 1 });
			const recoveredMs = performance.now() - back;
			// The query's own acquire deadline (1 s) already bounds the recovery; this bound only reports it, with room for a loaded machine.
			assert.ok(recoveredMs < 5_000, `recovered ${Math.round(recoveredMs)} ms after the server came back`);
			// min is restored by itself.
			assert.ok(await eventually(() => db.stats().primary.total >= 2, 3_000));
			assert.deepEqual(crashes.stop(), []);
		} finally {
			crashes.stop();
		}
	});
});
