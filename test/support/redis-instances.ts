/**
 * Throwaway redis-server instances for the Cluster and Sentinel tests: each on a spare port, in
 * a temporary directory, daemonized, and stopped (SIGKILL by pid file, then the directory
 * removed) by `stop()`, which the tests call from after() hooks so a failing test stops them too.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { freePorts } from "./free-port.ts";

const run = promisify(execFile);

export interface RedisInstance {
	port: number;
	/** A plain ioredis connection to it, outside any pool (lazily opened). */
	admin(): Redis;
	/** SIGKILL: as a crashed node. */
	kill(): Promise<void>;
}

export interface InstanceGroup {
	dir: string;
	instances: RedisInstance[];
	stop(): Promise<void>;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		try {
			if (await check()) return;
		} catch {}
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

async function ping(port: number): Promise<boolean> {
	const { stdout } = await run("redis-cli", ["-p", String(port), "PING"], { timeout: 2_000 });
	return stdout.trim() === "PONG";
}

async function pidOf(dir: string, port: number): Promise<number | undefined> {
	try {
		return Number((await readFile(path.join(dir, `redis-${port}.pid`), "utf8")).trim());
	} catch {
		return undefined;
	}
}

function killPid(pid: number | undefined): void {
	if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return;
	try {
		process.kill(pid, "SIGKILL");
	} catch {}
}

/** Starts `count` instances; `argsFor(port, dir)` gives each one's extra arguments (or a config file as the first). */
async function startGroup(count: number, argsFor: (port: number, dir: string) => Promise<string[]> | string[]): Promise<InstanceGroup> {
	const dir = await mkdtemp(path.join(tmpdir(), "lg-redis-"));
	const ports = await freePorts(count);
	const admins: Redis[] = [];
	const group: InstanceGroup = {
		dir,
		instances: ports.map((port) => ({
			port,
			admin() {
				const redis = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
				redis.on("error", () => {});
				admins.push(redis);
				return redis;
			},
			async kill() {
				killPid(await pidOf(dir, port));
			},
		})),
		async stop() {
			for (const a of admins) a.disconnect();
			for (const port of ports) killPid(await pidOf(dir, port));
			await rm(dir, { recursive: true, force: true });
		},
	};
	try {
		for (const port of ports) {
			const extra = await argsFor(port, dir);
			await run("redis-server", [
				...extra,
				"--port",
				String(port),
				"--bind",
				"127.0.0.1",
				"--save",
				"",
				"--appendonly",
				"no",
				"--dir",
				dir,
				"--daemonize",
				"yes",
				// A replica's first sync starts at once instead of after 5 s.
				"--repl-diskless-sync-delay",
				"0",
				"--pidfile",
				path.join(dir, `redis-${port}.pid`),
				"--logfile",
				path.join(dir, `redis-${port}.log`),
			]);
		}
		for (const port of ports) await waitUntil(() => ping(port), 10_000, `redis-server on port ${port}`);
	} catch (error) {
		await group.stop();
		throw error;
	}
	return group;
}

/** A 6-node cluster (3 primaries, 3 replicas), every slot covered and the cluster state ok. */
export async function startCluster(): Promise<InstanceGroup> {
	const group = await startGroup(6, (port) => ["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--cluster-node-timeout", "2000"]);
	try {
		await run("redis-cli", ["--cluster", "create", ...group.instances.map((i) => `127.0.0.1:${i.port}`), "--cluster-replicas", "1", "--cluster-yes"], {
			timeout: 30_000,
		});
		for (const { port } of group.instances) {
			await waitUntil(
				async () => (await run("redis-cli", ["-p", String(port), "CLUSTER", "INFO"])).stdout.includes("cluster_state:ok"),
				20_000,
				`cluster state ok on ${port}`,
			);
		}
		// A manual failover times out while a replica is still on its first sync.
		for (const { port } of group.instances) {
			await waitUntil(
				async () => {
					const info = (await run("redis-cli", ["-p", String(port), "INFO", "replication"])).stdout;
					return info.includes("role:master") || info.includes("master_link_status:up");
				},
				20_000,
				`replica ${port} in sync`,
			);
		}
	} catch (error) {
		await group.stop();
		throw error;
	}
	return group;
}

export interface SentinelSetup {
	primary: RedisInstance;
	replica: RedisInstance;
	sentinels: RedisInstance[];
	masterName: string;
	stop(): Promise<void>;
}

/** A primary, one replica of it, and 3 sentinels watching them as `mymaster` (quorum 2). */
export async function startSentinels(): Promise<SentinelSetup> {
	const masterName = "mymaster";
	const data = await startGroup(2, () => []);
	try {
		const [primary, replica] = data.instances;
		await run("redis-cli", ["-p", String(replica.port), "REPLICAOF", "127.0.0.1", String(primary.port)]);
		await waitUntil(
			async () => (await run("redis-cli", ["-p", String(replica.port), "INFO", "replication"])).stdout.includes("master_link_status:up"),
			15_000,
			"the replica to sync",
		);
		const sentinels = await startGroup(3, async (port, dir) => {
			const conf = path.join(dir, `sentinel-${port}.conf`);
			await writeFile(
				conf,
				[
					`sentinel monitor ${masterName} 127.0.0.1 ${primary.port} 2`,
					`sentinel down-after-milliseconds ${masterName} 2000`,
					`sentinel failover-timeout ${masterName} 10000`,
					`sentinel parallel-syncs ${masterName} 1`,
					"",
				].join("\n"),
			);
			return [conf, "--sentinel"];
		});
		const stop = async () => {
			await sentinels.stop();
			await data.stop();
		};
		try {
			// Each sentinel must know the replica and the other sentinels before a failover can be agreed.
			for (const s of sentinels.instances) {
				await waitUntil(
					async () => {
						const out = (await run("redis-cli", ["-p", String(s.port), "SENTINEL", "MASTER", masterName])).stdout;
						const field = (name: string) => {
							const lines = out.split("\n").map((l) => l.trim());
							return lines[lines.indexOf(name) + 1];
						};
						return field("num-slaves") === "1" && field("num-other-sentinels") === "2";
					},
					20_000,
					`sentinel ${s.port} to see the replica and its peers`,
				);
			}
		} catch (error) {
			await stop();
			throw error;
		}
		return { primary, replica, sentinels: sentinels.instances, masterName, stop };
	} catch (error) {
		await data.stop();
		throw error;
	}
}
