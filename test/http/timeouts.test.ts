/** Timeouts: headers and body timeouts per client and per call, an overall deadline, aborts reaching the server. */
import assert from "node:assert/strict";
import type http from "node:http";
import { after, before, describe, it } from "node:test";
import { createHttpClient } from "../../src/adapters/http/index.ts";
import { startHttp, type TestServer } from "./support/servers.ts";

let server: TestServer<http.Server>;
let closedEarly = 0;

before(async () => {
	server = await startHttp((req, res) => {
		const url = new URL(req.url ?? "/", "http://x");
		const delay = Number(url.searchParams.get("delay") ?? 0);
		req.once("close", () => {
			if (!res.writableEnded) closedEarly++;
		});
		if (url.pathname === "/slow-headers") {
			setTimeout(() => res.end("late"), delay);
			return;
		}
		if (url.pathname === "/sse") {
			// Server-sent events: one every `delay` ms, `count` of them, then the end.
			const count = Number(url.searchParams.get("count") ?? 5);
			res.writeHead(200, { "content-type": "text/event-stream" });
			let sent = 0;
			const timer = setInterval(() => {
				if (res.destroyed) return clearInterval(timer);
				res.write(`data: ${JSON.stringify({ n: ++sent })}\n\n`);
				if (sent === count) {
					clearInterval(timer);
					res.end("data: [DONE]\n\n");
				}
			}, delay);
			return;
		}
		if (url.pathname === "/stall") {
			res.writeHead(200, { "content-type": "text/plain" });
			res.write("first");
			return;
		}
		res.end("ok");
	});
});
after(() => server.close());

const call = (client: ReturnType<typeof createHttpClient>, path: string, extra = {}) =>
	client.request({ origin: server.origin, path, method: "GET", ...extra }).then((r) => r.body.text());

describe("headers timeout", () => {
	it("the client's headersTimeoutMs cuts a response whose headers are late, counted as a headers timeout", async () => {
		// undici's request timers tick every ~0.5 s, so a 100 ms timeout fires within a second.
		await using client = createHttpClient({ name: "headers", headersTimeoutMs: 100 });
		await assert.rejects(call(client, "/slow-headers?delay=2000"), { code: "UND_ERR_HEADERS_TIMEOUT" });
		assert.equal(client.stats().origins[server.origin].timeouts.headers, 1);
	});

	it("a call can give itself longer than the client's default", async () => {
		await using client = createHttpClient({ name: "headers-call", headersTimeoutMs: 100 });
		assert.equal(await call(client, "/slow-headers?delay=1500", { headersTimeoutMs: 5_000 }), "late");
	});

	it("by default a slow non-streaming answer is waited for (lifeguard's default, not undici's 300 s)", async () => {
		await using client = createHttpClient({ name: "headers-default" });
		assert.equal(await call(client, "/slow-headers?delay=300"), "late");
		assert.equal(client.options.headersTimeoutMs, 900_000);
	});
});

describe("body timeout", () => {
	it("a stream that keeps sending is never cut, however long it runs in all", async () => {
		await using client = createHttpClient({ name: "sse", bodyTimeoutMs: 300 });
		const body = await call(client, "/sse?delay=100&count=10");
		assert.equal(body.match(/^data: \{/gm)?.length, 10);
		assert.match(body, /\[DONE\]/);
	});

	it("silence longer than bodyTimeoutMs ends the body with UND_ERR_BODY_TIMEOUT", async () => {
		await using client = createHttpClient({ name: "stall" });
		await assert.rejects(call(client, "/stall", { bodyTimeoutMs: 150 }), { code: "UND_ERR_BODY_TIMEOUT" });
		assert.equal(client.stats().origins[server.origin].timeouts.body, 1);
	});
});

describe("overall deadline and aborts", () => {
	it("timeoutMs bounds the whole call with DEADLINE_EXCEEDED, and the server sees the request go away", async () => {
		await using client = createHttpClient({ name: "deadline" });
		const before = closedEarly;
		const started = Date.now();
		await assert.rejects(call(client, "/slow-headers?delay=2000", { timeoutMs: 150 }), { code: "DEADLINE_EXCEEDED" });
		assert.ok(Date.now() - started < 1_000);
		for (let i = 0; i < 50 && closedEarly === before; i++) await new Promise((r) => setTimeout(r, 10));
		assert.equal(closedEarly, before + 1);
		assert.equal(client.stats().origins[server.origin].timeouts.deadline, 1);
	});

	it("timeoutMs of Infinity is no deadline, not one that passes at once (Node fires such a timer after 1 ms)", async () => {
		await using client = createHttpClient({ name: "no-deadline", timeoutMs: Number.POSITIVE_INFINITY });
		assert.equal(await call(client, "/slow-headers?delay=50"), "late");
		assert.equal(await call(client, "/slow-headers?delay=50", { timeoutMs: Number.POSITIVE_INFINITY }), "late");
		assert.equal(client.stats().origins[server.origin].timeouts.deadline, 0);
	});

	it("a timeoutMs that is not a duration (0, negative, NaN, a string, above 2^31-1 ms) is CONFIG_INVALID, for the client and per call", async () => {
		assert.throws(
			() => createHttpClient({ name: "bad", timeoutMs: 2 ** 32 }),
			(e: Error & { code?: string }) => e.code === "CONFIG_INVALID" && /Infinity/.test(e.message),
		);
		await using client = createHttpClient({ name: "bad-deadline" });
		for (const timeoutMs of [0, -1, Number.NaN, "100", 2 ** 32]) {
			await assert.rejects(call(client, "/", { timeoutMs }), (e: Error & { code?: string }) => e.code === "CONFIG_INVALID" && /timeoutMs/.test(e.message));
		}
		assert.equal(await call(client, "/"), "ok");
	});

	it("aborting the caller's signal aborts the upstream request, mid-stream too", async () => {
		await using client = createHttpClient({ name: "abort" });
		const before = closedEarly;
		const controller = new AbortController();
		const res = await client.request({ origin: server.origin, path: "/sse?delay=50&count=100", method: "GET", signal: controller.signal });
		const reading = res.body.text();
		await new Promise((r) => setTimeout(r, 120));
		controller.abort(new Error("caller gave up"));
		await assert.rejects(reading);
		for (let i = 0; i < 50 && closedEarly === before; i++) await new Promise((r) => setTimeout(r, 10));
		assert.equal(closedEarly, before + 1);
	});

	it("fetch's AbortSignal.timeout aborts a call waiting for its headers", async () => {
		await using client = createHttpClient({ name: "fetch-abort" });
		await assert.rejects(fetch(`${server.origin}/slow-headers?delay=2000`, { dispatcher: client, signal: AbortSignal.timeout(100) } as RequestInit), {
			name: "TimeoutError",
		});
	});
});
