/**
 * What the MySQL tests share: the test server's address, an admin connection (plain mysql2,
 * outside lifeguard) to inspect and break things server-side, and small waiting helpers.
 */
import mysql from "mysql2/promise";
import { services } from "../support/services.ts";

export const server = services.mysql;
export const url = `mysql://${server.user}@${server.host}:${server.port}/${server.database}`;

export type Admin = mysql.Connection;

/** A plain mysql2 connection for setup, inspection and KILLs. */
export function admin(): Promise<Admin> {
	return mysql.createConnection({ host: server.host, port: server.port, user: server.user, database: server.database });
}

/** Thread ids of the server's connections to `database`, except the admin's own. */
export async function threadsOn(a: Admin, database: string): Promise<number[]> {
	const [rows] = await a.query<mysql.RowDataPacket[]>("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", [database]);
	return rows.map((r) => Number(r.ID));
}

/** How many statements whose text contains `marker` the server is running. */
export async function countRunning(a: Admin, marker: string): Promise<number> {
	const [rows] = await a.query<mysql.RowDataPacket[]>(
		"SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID() AND COMMAND = 'Query'",
		[`%${marker}%`],
	);
	return Number(rows[0].n);
}

/** Whether the server still runs a statement whose text contains `marker`. */
export async function statementRunning(a: Admin, marker: string): Promise<boolean> {
	return (await countRunning(a, marker)) > 0;
}

/** The shared waiting helper, re-exported where the MySQL tests always found it. */
export { eventually } from "../support/wait.ts";
