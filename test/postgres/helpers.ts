/**
 * What the PostgreSQL tests share: the test server's address, clients named so that their
 * backends can be found (and killed) in pg_stat_activity, and an admin connection outside lifeguard.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { createPostgresClient, type PostgresClientOptions, type PostgresServerOptions } from "../../src/adapters/postgres/index.ts";
import type { SqlClient } from "../../src/adapters/sql/types.ts";
import { services } from "../support/services.ts";

export const server = services.postgres;
export const url = `postgres://${server.user}@${server.host}:${server.port}/${server.database}`;

/** A unique application_name per client: tests find their own backends by it. */
export function appName(label: string): string {
	return `lg-${label}-${randomUUID().slice(0, 8)}`;
}

/** Connection options for the test server under `applicationName`. */
export function serverOptions(applicationName: string, extra: Partial<PostgresServerOptions> = {}): PostgresServerOptions {
	return { host: server.host, port: server.port, user: server.user, database: server.database, applicationName, ...extra };
}

/** A client on the test server; its backends carry the returned application name. */
export function testClient(label: string, options: Partial<PostgresClientOptions> = {}): { db: SqlClient; app: string } {
	const app = appName(label);
	const db = createPostgresClient({ primary: serverOptions(app), ...options });
	return { db, app };
}

/** A plain pg connection for setup, inspection and pg_terminate_backend. */
export async function admin(): Promise<pg.Client> {
	const client = new pg.Client({ host: server.host, port: server.port, user: server.user, database: server.database, application_name: "lg-test-admin" });
	client.on("error", () => {});
	await client.connect();
	return client;
}

/** Backend pids of the connections named `app`. */
export async function backendsOf(a: pg.Client, app: string): Promise<number[]> {
	const { rows } = await a.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid", [app]);
	return rows.map((r) => r.pid);
}

/** Terminates every backend named `app`; returns how many. */
export async function terminateAll(a: pg.Client, app: string): Promise<number> {
	const { rows } = await a.query<{ n: number }>(
		"SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) t",
		[app],
	);
	return rows[0].n;
}

/** Whether a statement containing `marker` is still running on the server. */
export async function statementRunning(a: pg.Client, marker: string): Promise<boolean> {
	const { rows } = await a.query<{ n: number }>(
		"SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
		[`%${marker}%`],
	);
	return rows[0].n > 0;
}

/** The shared waiting and crash-watching helpers, re-exported where the PostgreSQL tests always found them. */
export { watchCrashes } from "../support/crashes.ts";
export { eventually, sleep } from "../support/wait.ts";

/** The backend pid a query ran on. */
export async function pidOf(db: { query: SqlClient["query"] }): Promise<number> {
	const row = (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid", [], { fetch: "one" })) as { pid: number };
	return row.pid;
}

/**
 * Client-side TCP connections to `port` still established, from the kernel (ss). A paused proxy
 * socket never notices its peer left, so the client's side is the one to ask.
 */
export function establishedTo(port: number): number {
	const out = execFileSync("ss", ["-Htn", "state", "established", `( dport = :${port} )`], { encoding: "utf8" });
	return out.split("\n").filter((line) => line.trim() !== "").length;
}
