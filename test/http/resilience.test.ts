/** Retries, circuit breakers, 429 cooldowns and rate limits as options of the HTTP client, against a real server. */
import assert from "node:assert/strict";
import type http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { createHttpClient } from "../../src/adapters/http/index.ts";
import type { Reservation } from "../../src/resilience/index.ts";
import { startHttp, type TestServer } from "./support/servers.ts";

let server: TestServer<http.Server>;
const hits = new Map<string, number>();
let nextId = 0;
const id = () => `t${++nextId}`;

before(async () => {
	server = await startHttp((req, res) => {
		const url = new URL(req.url ?? "/", "http://x");
		const key = url.searchParams.get("id") ?? "";
		const n = (hits.get(key) ?? 0) + 1;
		hits.set(key, n);
		req.resume();
		switch (url.pathname) {
			case "/flaky": {
				// The first `fail` requests answer `status` (with an optional Retry-After), then 200; each after `delay` ms.
				const fail = Number(url.searchParams.get("fail") ?? 1);
				const answer = () => {
					if (n <= fail) {
						const retryAfter = url.searchParams.get("retryAfter");
						res.writeHead(Number(url.searchParams.get("status") ?? 503), retryAfter ? { "retry-after": retryAfter } : {});
						return res.end(`fail ${n}`);
					}
					return res.end(`ok ${n}`);
				};
				const delay = Number(url.searchParams.get("delay") ?? 0);
				return delay > 0 ? void setTimeout(answer, delay) : answer();
			}
			case "/cut":
				res.writeHead(200, { "content-length": "100" });
				res.write("partial");
				return setTimeout(() => res.socket?.destroy(), 20);
			default:
				return res.end("ok");
		}
	});
});
after(() => server.close());

async function get(client: ReturnType<typeof createHttpClient>, path: string, extra: Record<string, unknown> = {}) {
	const res = await client.request({ origin: server.origin, path, method: "GET", ...extra });
	return { status: res.statusCode, body: await res.body.text() };
}

/**
 * Starts `path`, closes the client 50 ms later, and returns the call's error code and how long
 * the whole took. The call is handled from the start: on a loaded machine it may reject while
 * close() is awaited, which node would report as an unhandled rejection.
 */
async function closeDuring(client: ReturnType<typeof createHttpClient>, path: string): Promise<{ code: string | undefined; elapsedMs: number }> {
	const started = Date.now();
	const call = get(client, path).then(
		() => assert.fail("expected the call to fail"),
		(error: unknown) => error as { code?: string },
	);
	await new Promise((r) => setTimeout(r, 50));
	await client.close();
	const { code } = await call;
	return { code, elapsedMs: Date.now() - started };
}

describe("retries", () => {
	it("retries a GET on 503 and hands the caller only the final response", async () => {
		await using client = createHttpClient({ name: "retry", retry: { initialDelayMs: 10, maxDelayMs: 20 } });
		const t = id();
		assert.deepEqual(await get(client, `/flaky?id=${t}&fail=2`), { status: 200, body: "ok 3" });
		assert.equal(hits.get(t), 3);
		const s = client.stats().origins[server.origin];
		assert.equal(s.retries, 2);
		assert.deepEqual(s.responses["2xx"], 1);
		assert.deepEqual(s.responses["5xx"], 0, "the dropped 503s never reached the caller");
	});

	it("does not retry a POST, but does one with an Idempotency-Key", async () => {
		await using client = createHttpClient({ name: "retry-post", retry: { initialDelayMs: 10, maxDelayMs: 20 } });
		const plain = id();
		const post = await client.request({ origin: server.origin, path: `/flaky?id=${plain}`, method: "POST", body: "{}" });
		assert.equal(post.statusCode, 503);
		await post.body.dump();
		assert.equal(hits.get(plain), 1);
		const keyed = id();
		const again = await client.request({
			origin: server.origin,
			path: `/flaky?id=${keyed}`,
			method: "POST",
			body: "{}",
			headers: { "idempotency-key": "k-1" },
		});
		assert.equal(again.statusCode, 200);
		await again.body.dump();
		assert.equal(hits.get(keyed), 2);
	});

	it("waits what Retry-After asks", async () => {
		await using client = createHttpClient({ name: "retry-after", retry: { initialDelayMs: 1, maxDelayMs: 1 }, cooldownOn429: false });
		const started = Date.now();
		assert.equal((await get(client, `/flaky?id=${id()}&status=429&retryAfter=1`)).status, 200);
		assert.ok(Date.now() - started >= 950, `retried after ${Date.now() - started} ms`);
	});

	it("when attempts run out, the caller gets the last response", async () => {
		await using client = createHttpClient({ name: "retry-out", retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 } });
		const t = id();
		assert.deepEqual(await get(client, `/flaky?id=${t}&fail=10`), { status: 503, body: "fail 3" });
		assert.equal(hits.get(t), 3);
	});

	it("does not retry when the wait would pass the call's deadline", async () => {
		await using client = createHttpClient({ name: "retry-deadline", retry: true, cooldownOn429: false });
		const started = Date.now();
		assert.equal((await get(client, `/flaky?id=${id()}&retryAfter=5`, { timeoutMs: 1_000 })).status, 503);
		assert.ok(Date.now() - started < 500);
	});

	it("never retries once the body has started to reach the caller", async () => {
		await using client = createHttpClient({ name: "retry-cut", retry: { initialDelayMs: 1, maxDelayMs: 1 } });
		const t = id();
		await assert.rejects(get(client, `/cut?id=${t}`));
		assert.equal(hits.get(t), 1);
		assert.equal(client.stats().origins[server.origin].retries, 0);
	});

	it("a call waiting for its retry when the client closes ends with POOL_CLOSED, not a hang", async () => {
		const client = createHttpClient({ name: "retry-close", retry: { initialDelayMs: 200, maxDelayMs: 200 } });
		// Retry-After fixes the wait at 2 s: a backoff with full jitter drew both waits below 50 ms now and then, and
		// the call had its final 503 before the close.
		const { code, elapsedMs } = await closeDuring(client, `/flaky?id=${id()}&fail=5&retryAfter=2`);
		assert.equal(code, "POOL_CLOSED");
		assert.ok(elapsedMs < 1_500, "the close ends the wait for the retry, not its end");
	});

	it("a call on the wire when the client closes gets its answer; a retry decided after the close fails at once with POOL_CLOSED", async () => {
		const client = createHttpClient({ name: "retry-close-late", retry: { initialDelayMs: 200, maxDelayMs: 200 } });
		const t = id();
		const { code, elapsedMs } = await closeDuring(client, `/flaky?id=${t}&fail=5&retryAfter=2&delay=200`);
		assert.equal(code, "POOL_CLOSED");
		assert.equal(hits.get(t), 1, "the attempt on the wire reached the server and was answered");
		assert.ok(elapsedMs < 1_500, "no wait for the retry that can no longer be sent");
	});

	it("retries a refused connection, then reports it", async () => {
		const probe = net.createServer();
		await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
		const origin = `http://127.0.0.1:${(probe.address() as net.AddressInfo).port}`;
		await new Promise((r) => probe.close(r));
		await using client = createHttpClient({ name: "retry-refused", retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 10 } });
		await assert.rejects(client.request({ origin, path: "/", method: "GET" }), { code: "ECONNREFUSED" });
		assert.equal(client.stats().origins[origin].retries, 2);
	});
});

describe("circuit breaker per origin", () => {
	it("opens after consecutive 5xx, refuses without calling, then lets one probe through", async () => {
		await using client = createHttpClient({ name: "breaker", circuitBreaker: { failureThreshold: 2, halfOpenAfterMs: 300 } });
		const t = id();
		for (let i = 0; i < 2; i++) assert.equal((await get(client, `/flaky?id=${t}&fail=2`)).status, 503);
		await assert.rejects(get(client, `/flaky?id=${t}&fail=2`), { code: "CIRCUIT_OPEN" });
		assert.equal(hits.get(t), 2, "the refused call never reached the server");
		const [view] = client.breakers();
		assert.equal(view.label, server.origin);
		assert.equal(view.state, "open");
		assert.equal(view.failures, 2);
		assert.equal(view.lastError, "HTTP 503");
		await new Promise((r) => setTimeout(r, 350));
		assert.equal((await get(client, `/flaky?id=${t}&fail=2`)).status, 200);
		assert.equal(client.breakers()[0].state, "closed");
		assert.deepEqual(
			client.stats().origins[server.origin].breaker?.history.map((h) => h.to),
			["open", "halfOpen", "closed"],
		);
	});

	it("policyKey gives calls to one origin breakers of their own (a deployment, an API key)", async () => {
		await using client = createHttpClient({ name: "breaker-key", circuitBreaker: { failureThreshold: 1 } });
		assert.equal((await get(client, `/flaky?id=${id()}`, { policyKey: "deployment-a" })).status, 503);
		await assert.rejects(get(client, "/", { policyKey: "deployment-a" }), { code: "CIRCUIT_OPEN" });
		assert.equal((await get(client, "/", { policyKey: "deployment-b" })).status, 200);
		assert.deepEqual(
			client.breakers().map((b) => [b.label, b.state]),
			[
				["deployment-a", "open"],
				["deployment-b", "closed"],
			],
		);
	});

	it("a 429 is not a breaker failure", async () => {
		await using client = createHttpClient({ name: "breaker-429", circuitBreaker: { failureThreshold: 1 }, cooldownOn429: false });
		assert.equal((await get(client, `/flaky?id=${id()}&status=429`)).status, 429);
		assert.equal(client.breakers()[0].state, "closed");
	});
});

describe("429 cooldown", () => {
	it("after a 429 the origin's next call waits for Retry-After, or is refused at once if its deadline is sooner", async () => {
		await using client = createHttpClient({ name: "cooldown", cooldownOn429: true });
		assert.equal((await get(client, `/flaky?id=${id()}&status=429&retryAfter=1`)).status, 429);
		const refusedAt = Date.now();
		await assert.rejects(
			get(client, "/", { timeoutMs: 200 }),
			(e: Error & { code: string; limit: string }) => e.code === "RATE_LIMITED" && e.limit === "cooldown",
		);
		assert.ok(Date.now() - refusedAt < 100, "refused at once");
		const started = Date.now();
		assert.equal((await get(client, "/")).status, 200);
		assert.ok(Date.now() - started >= 700, `waited ${Date.now() - started} ms`);
		assert.equal(client.stats().origins[server.origin].tooManyRequests, 1);
	});

	it("a call waiting out the cooldown when the client closes ends with POOL_CLOSED at once", async () => {
		const client = createHttpClient({ name: "cooldown-close", cooldownOn429: true });
		assert.equal((await get(client, `/flaky?id=${id()}&status=429&retryAfter=2`)).status, 429);
		const { code, elapsedMs } = await closeDuring(client, "/");
		assert.equal(code, "POOL_CLOSED");
		assert.ok(elapsedMs < 1_500, "the close ends the wait, not its end");
	});
});

describe("rate limits", () => {
	it("requests per minute: a call that cannot start within its deadline is refused at once", async () => {
		await using client = createHttpClient({ name: "rpm", rateLimit: { requestsPerMinute: 2 } });
		await get(client, "/");
		await get(client, "/");
		await assert.rejects(
			get(client, "/", { timeoutMs: 200 }),
			(e: Error & { code: string; limit: string }) => e.code === "RATE_LIMITED" && e.limit === "requests",
		);
	});

	it("tokens per minute: reserve an estimate, settle with what the response reports", async () => {
		await using client = createHttpClient({ name: "tpm", rateLimit: (origin) => (origin === server.origin ? { tokensPerMinute: 100 } : undefined) });
		let reservation: Reservation | undefined;
		await get(client, "/", { tokens: 80, onReservation: (r: Reservation) => (reservation = r) });
		await assert.rejects(get(client, "/", { tokens: 80, timeoutMs: 200 }), { code: "RATE_LIMITED" });
		reservation?.settle(10);
		assert.equal((await get(client, "/", { tokens: 80, timeoutMs: 200 })).status, 200);
		assert.equal(client.rateLimiter?.stats().rejected, 1);
	});
});
