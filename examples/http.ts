/**
 * A pooled HTTP client on undici: one pool of connections per origin under a global budget, used
 * directly (request), as fetch's dispatcher, and as the process's global dispatcher; a flaky
 * upstream retried (the 503s never reach the caller), a circuit breaker, per-call timeouts,
 * a full queue refused at once, and the statistics per origin.
 * Run: npx node examples/http.ts   (starts its own local server on a free port)
 */
import http from "node:http";
import { getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { createHttpClient } from "../src/adapters/http/index.ts";

// A local upstream: /flaky fails twice in three, /slow answers after 300 ms, everything else at once.
let flaky = 0;
const upstream = http.createServer((req, res) => {
	if (req.url === "/flaky" && ++flaky % 3 !== 0) return res.writeHead(503).end("try again");
	if (req.url === "/slow") return setTimeout(() => res.end("slow answer"), 300);
	res.setHeader("content-type", "application/json");
	res.end(JSON.stringify({ path: req.url }));
});
await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;

const client = createHttpClient({
	name: "apis",
	maxConnections: 50, // over all origins
	maxConnectionsPerOrigin: 4,
	maxWaiters: 8, // one bounded queue: more are refused at once
	prewarm: [origin], // start() opens a connection before the first request
	retry: { maxAttempts: 3, initialDelayMs: 20 }, // 408, 429, 5xx and connection errors, idempotent requests only
	circuitBreaker: { failureThreshold: 5, halfOpenAfterMs: 10_000 },
});

try {
	await client.start();

	// undici's request() shape, with lifeguard's per-call options.
	const res = await client.request({ origin, path: "/hello", method: "GET", timeoutMs: 5_000 });
	console.log("request:", res.statusCode, await res.body.json());

	// The 503s are retried and dropped: the caller sees the answer that worked.
	const retried = await client.request({ origin, path: "/flaky", method: "GET" });
	console.log("flaky:", retried.statusCode, "after", client.stats().origins[origin].retries, "retries");
	await retried.body.dump();

	// A dispatcher for fetch, and for the whole process.
	const viaFetch = await fetch(`${origin}/fetch`, { dispatcher: client } as RequestInit);
	console.log("fetch:", viaFetch.status, await viaFetch.json());
	const previous = getGlobalDispatcher();
	setGlobalDispatcher(client);
	console.log("global fetch:", (await fetch(`${origin}/global`)).status);
	setGlobalDispatcher(previous);

	// An overall deadline for one call (waits, attempts, backoff, body): DEADLINE_EXCEEDED, and the request is aborted upstream.
	await client
		.request({ origin, path: "/slow", method: "GET", timeoutMs: 100 })
		.catch((error: Error & { code?: string }) => console.log("deadline:", error.code, "-", error.message));

	// 4 connections and 8 waiters: the 13th concurrent request is refused at once, with the state.
	const burst = Array.from({ length: 13 }, () => client.request({ origin, path: "/slow", method: "GET" }).then((r) => r.body.dump()));
	const settled = await Promise.allSettled(burst);
	const refused = settled.find((s) => s.status === "rejected") as PromiseRejectedResult | undefined;
	console.log("queue full:", refused?.reason.code, "-", refused?.reason.message);

	const stats = client.stats().origins[origin];
	console.log("stats:", {
		connected: stats.connected,
		created: stats.created,
		requests: stats.requests,
		reuseRatio: Number(stats.reuseRatio.toFixed(3)),
		connectMsP50: Number(stats.connectMs.p50.toFixed(2)),
		timeouts: stats.timeouts,
		breaker: client.breakers()[0]?.state,
	});
} finally {
	await client.close();
	upstream.close();
}
