/**
 * One run of bench/instructions.ts, under callgrind: `node bench/instructions-contender.ts <pool>
 * <warmup> <measured>` opens the pool, runs `warmup` queries of `SELECT 1` through
 * `pool.promise().query()` from 16 callers, prints "warm" and waits for a line on stdin (the
 * parent has callgrind dump and restart its counters meanwhile), runs `measured` more, and exits.
 * With `POLLUTE=1` it first runs compat/pg and a plain core pool in the same process, as a service
 * with several kinds of pools does, so that the core's and Node's shared code has seen more than
 * one kind of caller.
 */
import mysql from "mysql2";
import * as compatMysql from "../src/compat/mysql2.ts";
import { services } from "../test/support/services.ts";
import { measure } from "./rounds.ts";

const CALLERS = 16;
const MAX = 10;
const [which, warmup, measured] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];

interface QueryPool {
	query(sql: string): Promise<unknown>;
	end(): Promise<void>;
}

/** `n` queries from CALLERS concurrent loops: the suites' own loop (bench/rounds.ts), its timing unused. */
async function load(pool: QueryPool, n: number): Promise<void> {
	await measure({ name: which, query: () => pool.query("SELECT 1"), close: () => pool.end() }, n, CALLERS);
}

if (process.env.POLLUTE === "1") {
	const compatPg = await import("../src/compat/pg.ts");
	const { createPool } = await import("../src/core/pool.ts");
	const p = services.postgres;
	const pg = new compatPg.Pool({ host: p.host, port: p.port, user: p.user, database: p.database, max: MAX });
	await load(pg, warmup);
	await pg.end();
	const core = createPool<{ uses: number }>({ create: async () => ({ uses: 0 }), max: 4 });
	for (let i = 0; i < warmup; i++) {
		const lease = await core.acquire();
		lease.resource.uses++;
		lease.release();
	}
	await core.close();
}

const m = services.mysql;
const config = { host: m.host, port: m.port, user: m.user, database: m.database, connectionLimit: MAX };
let pool: QueryPool;
if (which === "compat/mysql2") pool = compatMysql.createPool(config).promise();
else if (which === "mysql2 pool") pool = mysql.createPool(config).promise();
else throw new Error(`instructions-contender: unknown pool "${which}"`);
await load(pool, warmup);
process.stdout.write("warm\n");
await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
process.stdin.pause();
await load(pool, measured);
await pool.end();
