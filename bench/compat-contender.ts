/**
 * One contender of bench/compat.bench.ts in a process of its own (the isolated comparison):
 * `node bench/compat-contender.ts <pool>` opens the pool, answers "ready", then runs a round for
 * each `{ ops, callers }` message and sends back its Sample.
 */
import mysql from "mysql2";
import pg from "pg";
import * as compatMysql from "../src/compat/mysql2.ts";
import * as compatPg from "../src/compat/pg.ts";
import { services } from "../test/support/services.ts";
import { serveRounds } from "./rounds.ts";

const MAX = 10;
const SQL = "SELECT 1";

interface Opened {
	query(sql: string): Promise<unknown>;
	end(): Promise<void>;
}

function open(which: string): Opened {
	const p = services.postgres;
	const m = services.mysql;
	const pgConfig = { host: p.host, port: p.port, user: p.user, database: p.database, max: MAX };
	const mysqlConfig = { host: m.host, port: m.port, user: m.user, database: m.database, connectionLimit: MAX };
	if (which === "compat/pg") return new compatPg.Pool({ ...pgConfig, application_name: "lg-bench-compat-pg" });
	if (which === "pg.Pool") return new pg.Pool({ ...pgConfig, application_name: "lg-bench-pg" });
	if (which === "compat/mysql2") return compatMysql.createPool(mysqlConfig).promise();
	if (which === "mysql2 pool") return mysql.createPool(mysqlConfig).promise();
	throw new Error(`compat-contender: unknown pool "${which}"`);
}

const pool = open(process.argv[2]);
await Promise.all(Array.from({ length: MAX }, () => pool.query(SQL)));
serveRounds(
	process.argv[2],
	() => pool.query(SQL),
	() => pool.end(),
);
