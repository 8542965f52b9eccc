/**
 * GET/SET throughput against the real Redis, 16 concurrent callers, in one process, contenders
 * interleaved round by round: lifeguard's command path (multiplexed shared connections),
 * lifeguard with a leased connection per operation, generic-pool of ioredis clients (a classic
 * pool), one shared ioredis connection (what most apps do; also with ioredis's own
 * enableAutoPipelining), and a new connection per operation (what a pool exists to avoid).
 */
import genericPool from "generic-pool";
import { Redis } from "ioredis";
import { createRedisClient } from "../src/adapters/redis/index.ts";
import { median } from "./rounds.ts";

const CALLERS = 16;
const ROUNDS = 7;
const OPS = 30_000;
/** Opening a connection per operation is ~100x slower: fewer operations keep the suite short. */
const OPS_NEW_CONNECTION = 1_000;
const DB = 9;
const PREFIX = `lg-bench-${process.pid}:`;
const KEYS = 100;

interface Contender {
	name: string;
	ops: number;
	get(key: string): Promise<unknown>;
	set(key: string, value: string): Promise<unknown>;
	close(): Promise<void>;
}

const connectionOptions = { host: "127.0.0.1", port: Number(process.env.REDIS_PORT ?? 6379), db: DB, keyPrefix: PREFIX };

async function connect(enableAutoPipelining = false): Promise<Redis> {
	const redis = new Redis({ ...connectionOptions, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null, enableAutoPipelining });
	redis.on("error", () => {});
	await redis.connect();
	return redis;
}

async function makeContenders(): Promise<Contender[]> {
	const client = createRedisClient({ ...connectionOptions, max: CALLERS });
	await client.start();

	const leasing = createRedisClient({ ...connectionOptions, min: CALLERS, max: CALLERS });
	await leasing.start();

	const classic = genericPool.createPool<Redis>({ create: connect, destroy: async (r) => void r.disconnect() }, { min: CALLERS, max: CALLERS });
	await classic.ready();
	const useClassic = async <R>(fn: (r: Redis) => Promise<R>): Promise<R> => {
		const redis = await classic.acquire();
		try {
			return await fn(redis);
		} finally {
			await classic.release(redis);
		}
	};

	const shared = await connect();
	const autoPipelined = await connect(true);

	const perOperation = async <R>(fn: (r: Redis) => Promise<R>): Promise<R> => {
		const redis = await connect();
		try {
			return await fn(redis);
		} finally {
			await redis.quit();
		}
	};

	return [
		{ name: "lifeguard", ops: OPS, get: (k) => client.get(k), set: (k, v) => client.set(k, v), close: () => client.close() },
		{
			name: "lifeguard-lease-per-op",
			ops: OPS,
			get: (k) => leasing.withConnection((r) => r.get(k)),
			set: (k, v) => leasing.withConnection((r) => r.set(k, v)),
			close: () => leasing.close(),
		},
		{
			name: "generic-pool",
			ops: OPS,
			get: (k) => useClassic((r) => r.get(k)),
			set: (k, v) => useClassic((r) => r.set(k, v)),
			close: () => classic.drain().then(() => classic.clear()),
		},
		{ name: "shared-connection", ops: OPS, get: (k) => shared.get(k), set: (k, v) => shared.set(k, v), close: async () => void (await shared.quit()) },
		{
			name: "shared-connection-autopipelining",
			ops: OPS,
			get: (k) => autoPipelined.get(k),
			set: (k, v) => autoPipelined.set(k, v),
			close: async () => void (await autoPipelined.quit()),
		},
		{
			name: "new-connection-per-op",
			ops: OPS_NEW_CONNECTION,
			get: (k) => perOperation((r) => r.get(k)),
			set: (k, v) => perOperation((r) => r.set(k, v)),
			close: async () => {},
		},
	];
}

/** CALLERS loops alternate SET and GET until `ops` are done; returns operations per second. */
async function throughput(c: Contender, ops: number): Promise<number> {
	let started = 0;
	const t0 = performance.now();
	const loop = async () => {
		while (started < ops) {
			const i = started++;
			const key = `k${i % KEYS}`;
			if (i % 2 === 0) await c.set(key, String(i));
			else await c.get(key);
		}
	};
	await Promise.all(Array.from({ length: CALLERS }, loop));
	return ops / ((performance.now() - t0) / 1000);
}

export const name = "redis";

export async function run(): Promise<Record<string, unknown>> {
	const contenders = await makeContenders();
	const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
	for (const c of contenders) await throughput(c, Math.ceil(c.ops / 5));
	for (let round = 0; round < ROUNDS; round++) {
		for (const c of contenders) samples.get(c.name)?.push(await throughput(c, c.ops));
	}
	const opsPerSec = Object.fromEntries(contenders.map((c) => [c.name, Math.round(median(samples.get(c.name) ?? []))]));
	// Without keyPrefix: ioredis does not prefix KEYS patterns, but would prefix the keys given to DEL.
	const cleanup = new Redis({ ...connectionOptions, keyPrefix: undefined });
	const keys = await cleanup.keys(`${PREFIX}*`);
	if (keys.length > 0) await cleanup.del(...keys);
	await cleanup.quit();
	await Promise.all(contenders.map((c) => c.close()));
	// The median of per-round ratios: a round's contenders share its machine load, so ratios vary less than absolute figures.
	const ratio = (a: string, b: string) => {
		const as = samples.get(a) ?? [];
		const bs = samples.get(b) ?? [];
		return Math.round(median(as.map((x, i) => x / bs[i])) * 100) / 100;
	};
	return {
		callers: CALLERS,
		rounds: ROUNDS,
		opsPerRound: Object.fromEntries(contenders.map((c) => [c.name, c.ops])),
		opsPerSec,
		ratios: {
			lifeguardVsNewConnectionPerOp: ratio("lifeguard", "new-connection-per-op"),
			lifeguardVsSharedConnection: ratio("lifeguard", "shared-connection"),
			lifeguardVsAutoPipelining: ratio("lifeguard", "shared-connection-autopipelining"),
			lifeguardVsGenericPool: ratio("lifeguard", "generic-pool"),
			lifeguardVsLeasePerOp: ratio("lifeguard", "lifeguard-lease-per-op"),
			leasePerOpVsGenericPool: ratio("lifeguard-lease-per-op", "generic-pool"),
		},
	};
}
