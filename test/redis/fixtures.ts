/**
 * What the Redis tests share: the test database, key prefixes unique to a test file, a raw
 * admin connection (to inspect and break things from outside the pool), and a recorder of
 * errors that escape to the process.
 */
import { Redis } from "ioredis";
import { services } from "../support/services.ts";

/** Tests use this database only, and only keys under their own prefix. */
export const TEST_DB = 9;

/** A key prefix and CLIENT SETNAME name unique to one test file and process. */
export function uniqueName(file: string): string {
	return `lg-test-${file}-${process.pid}`;
}

/** A plain ioredis connection outside any pool, for setup, inspection and CLIENT KILL. */
export async function adminConnection(): Promise<Redis> {
	const admin = new Redis({ host: services.redis.host, port: services.redis.port, db: TEST_DB, lazyConnect: true, maxRetriesPerRequest: 1 });
	admin.on("error", () => {});
	await admin.connect();
	return admin;
}

/** Deletes every key under `prefix` in the test database. */
export async function deleteKeys(admin: Redis, prefix: string): Promise<void> {
	let cursor = "0";
	do {
		const [next, keys] = await admin.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
		if (keys.length > 0) await admin.del(...keys);
		cursor = next;
	} while (cursor !== "0");
}

/** Parsed `CLIENT LIST` lines of the connections named `name`. */
export async function clientsNamed(admin: Redis, name: string): Promise<Record<string, string>[]> {
	const list = (await admin.client("LIST")) as string;
	return list
		.split("\n")
		.filter((line) => line.trim() !== "")
		.map((line) => Object.fromEntries(line.split(" ").map((field) => field.split("=", 2) as [string, string])))
		.filter((fields) => fields.name === name);
}

/** CLIENT KILL every connection named `name` (as a server-side kill or a failover would); returns how many. */
export async function killClientsNamed(admin: Redis, name: string): Promise<number> {
	const clients = await clientsNamed(admin, name);
	for (const client of clients) await admin.client("KILL", "ID", client.id);
	return clients.length;
}

/** Records uncaught exceptions and unhandled rejections until `stop()`. */
export function recordProcessErrors(): { errors: unknown[]; stop(): void } {
	const errors: unknown[] = [];
	const record = (error: unknown) => errors.push(error);
	process.on("uncaughtException", record);
	process.on("unhandledRejection", record);
	return {
		errors,
		stop() {
			process.off("uncaughtException", record);
			process.off("unhandledRejection", record);
		},
	};
}

/** The shared waiting helpers, re-exported where the Redis tests always found them. */
export { sleep, waitFor } from "../support/wait.ts";
