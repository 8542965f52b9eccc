/**
 * A throwaway PostgreSQL primary and hot standby for the replica tests: initdb'd as the
 * `postgres` OS user in a temporary directory, each on a spare port, the standby made with
 * pg_basebackup -R (streaming replication). `stop()` stops both (immediate) and removes the
 * directory; the tests call it from after() hooks.
 */
import { execFile } from "node:child_process";
import { appendFile, chmod, chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePorts } from "./free-port.ts";

const run = promisify(execFile);

/** Runs a PostgreSQL tool as the postgres user (initdb and postgres refuse to run as root). */
async function asPostgres(command: string, args: string[], timeoutMs = 60_000): Promise<string> {
	const asRoot = process.getuid?.() === 0;
	const { stdout } = await run(asRoot ? "runuser" : command, asRoot ? ["-u", "postgres", "--", command, ...args] : args, { timeout: timeoutMs });
	return stdout;
}

export interface PgServer {
	port: number;
	dataDir: string;
	/** Starts it (again) and waits until it accepts connections. */
	start(): Promise<void>;
	/** Stops it at once (as a crash or a pulled host would). */
	kill(): Promise<void>;
}

export interface PgPair {
	primary: PgServer;
	standby: PgServer;
	/** `pg_ctl promote` on the standby: it leaves recovery and takes writes. */
	promote(): Promise<void>;
	stop(): Promise<void>;
}

function server(dir: string, name: string, port: number): PgServer {
	const dataDir = path.join(dir, name);
	const log = path.join(dir, `${name}.log`);
	return {
		port,
		dataDir,
		async start() {
			await asPostgres("pg_ctl", ["-D", dataDir, "-l", log, "-w", "-t", "30", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, "start"]);
		},
		async kill() {
			try {
				await asPostgres("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
			} catch {}
		},
	};
}

export async function startPrimaryAndStandby(): Promise<PgPair> {
	const dir = await mkdtemp(path.join(tmpdir(), "lg-pg-replica-"));
	const [primaryPort, standbyPort] = await freePorts(2);
	const primary = server(dir, "primary", primaryPort);
	const standby = server(dir, "standby", standbyPort);
	const stop = async () => {
		await standby.kill();
		await primary.kill();
		await rm(dir, { recursive: true, force: true });
	};
	try {
		const { uid, gid } = await idOf("postgres");
		await chown(dir, uid, gid);
		await chmod(dir, 0o700);
		await asPostgres("initdb", ["-D", primary.dataDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
		await appendFile(
			path.join(primary.dataDir, "postgresql.conf"),
			["wal_level = replica", "max_wal_senders = 5", "hot_standby = on", "fsync = off", "synchronous_commit = off", "shared_buffers = 16MB", ""].join("\n"),
		);
		await appendFile(path.join(primary.dataDir, "pg_hba.conf"), "host replication all 127.0.0.1/32 trust\n");
		await primary.start();
		await asPostgres("pg_basebackup", [
			"-h",
			"127.0.0.1",
			"-p",
			String(primaryPort),
			"-U",
			"postgres",
			"-D",
			standby.dataDir,
			"-R",
			"-X",
			"stream",
			"-c",
			"fast",
		]);
		await standby.start();
	} catch (error) {
		await stop();
		throw error;
	}
	return {
		primary,
		standby,
		async promote() {
			await asPostgres("pg_ctl", ["-D", standby.dataDir, "-w", "promote"]);
		},
		stop,
	};
}

async function idOf(user: string): Promise<{ uid: number; gid: number }> {
	const [uid, gid] = await Promise.all([run("id", ["-u", user]), run("id", ["-g", user])]);
	return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
