/**
 * A pooled Redis client: commands multiplexed on a shared connection, a pipeline, a blocking
 * BLPOP on a connection of its own while other commands keep flowing, an optimistic transaction
 * (WATCH/MULTI/EXEC), pub/sub, a leased connection given back clean, and typed errors.
 * Run: npx node examples/redis.ts   (REDIS_URL, default redis://127.0.0.1:6379/9; keys under "example:")
 */
import { createRedisClient, RedisCommandError, RedisTimeoutError } from "../src/adapters/redis/index.ts";

const redis = createRedisClient({
	url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379/9",
	name: "cache",
	keyPrefix: "example:",
	connectionName: "lifeguard-example",
	min: 1,
	max: 10,
	keepaliveMs: 30_000,
});

try {
	await redis.start();

	// The command path: any number of concurrent callers share one pipelined connection.
	await redis.set("greeting", "hello", { ttlMs: 60_000 });
	const counts = await Promise.all(Array.from({ length: 100 }, () => redis.command("incr", "visits")));
	console.log("get:", await redis.get("greeting"), "| 100 INCRs, last:", counts.at(-1), "| connections open:", redis.stats().pool.total);

	// A pipeline: one round trip, each command's [error, value]; one failing does not stop the others.
	const results = await redis.pipeline([
		["hset", "user:1", "name", "Ada", "visits", "0"],
		["hincrby", "user:1", "visits", 1],
		["incr", "greeting"],
	]);
	console.log(
		"pipeline:",
		results.map(([error, value]) => (error === null ? value : `${error.code}: ${error.message}`)),
	);

	// A blocking BLPOP runs on a connection of its own; the shared connection keeps serving.
	const job = redis.command("blpop", "jobs", 5);
	console.log("while BLPOP waits, GET still answers:", await redis.get("greeting"));
	await redis.command("rpush", "jobs", "resize-image-42");
	console.log("blpop:", await job);

	// Optimistic transaction: WATCH, read, queue writes, EXEC; runs again if "stock" changes meanwhile.
	await redis.set("stock", "3");
	const sale = await redis.transaction(
		async (tx) => {
			const stock = Number(await tx.command("get", "stock"));
			if (stock > 0) tx.queue("decr", "stock").queue("rpush", "orders", "order-1");
			return stock;
		},
		{ watch: ["stock"], attempts: 3 },
	);
	console.log("transaction:", sale.committed ? `sold (stock was ${sale.value})` : "gave up: stock kept changing");

	// Pub/sub on a leased connection, given back to the pool after a clean UNSUBSCRIBE.
	const received: string[] = [];
	const subscription = await redis.subscribe("news", (message) => void received.push(message), {
		onError: (error) => console.error("subscription:", error.message),
	});
	await redis.command("publish", "news", "lifeguard ships a Redis adapter");
	while (received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
	await subscription.unsubscribe();
	console.log("pub/sub:", received);

	// A leased connection: whatever the borrower leaves (here a WATCH and another database) is undone on release.
	{
		await using lease = await redis.acquire();
		await lease.resource.watch("stock");
		await lease.resource.select(0);
		console.log("leased connection", lease.connectionId, "goes back unwatched, on its own database again");
	}

	// Typed errors: the server's rejection is REDIS_COMMAND_FAILED (the connection stays), no reply in time is REDIS_TIMEOUT.
	try {
		await redis.command("lpush", "greeting", "x");
	} catch (error) {
		if (error instanceof RedisCommandError) console.log("command error:", error.code, error.serverCode, "-", error.message);
	}
	try {
		await redis.command({ name: "blpop", args: ["nothing-comes", 10], timeoutMs: 100 });
	} catch (error) {
		if (error instanceof RedisTimeoutError) console.log("timeout:", error.code, "after", error.timeoutMs, "ms; that connection was replaced");
	}

	await redis.del(["greeting", "visits", "user:1", "stock", "orders", "jobs"]);
	const { pool, shared, subscriptions } = redis.stats();
	console.log("stats:", { open: pool.total, idle: pool.idle, created: pool.created, destroyed: pool.destroyedByReason, shared, subscriptions });
} finally {
	await redis.close();
}
