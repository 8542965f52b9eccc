/** The HTTP client is an undici Dispatcher: request(), fetch, setGlobalDispatcher, both handler styles; ManagedClient; options. */
import assert from "node:assert/strict";
import type http from "node:http";
import { after, before, describe, it } from "node:test";
import { type Dispatcher, getGlobalDispatcher, setGlobalDispatcher, fetch as undiciFetch, request as undiciRequest } from "undici";
import { createHttpClient, HTTP_DEFAULTS, HttpClient } from "../../src/adapters/http/index.ts";
import { ClientKind, type ConfigError, type ManagedClient } from "../../src/index.ts";
import { startHttp, type TestServer } from "./support/servers.ts";

let server: TestServer<http.Server>;

before(async () => {
	server = await startHttp((req, res) => {
		let body = "";
		req.on("data", (c) => (body += c));
		req.on("end", () => {
			res.setHeader("content-type", "application/json");
			res.setHeader("x-seen-method", req.method ?? "");
			res.end(JSON.stringify({ path: req.url, method: req.method, body }));
		});
	});
});
after(() => server.close());

describe("HTTP client as an undici Dispatcher", () => {
	it("request() returns undici's response shape", async () => {
		await using client = createHttpClient({ name: "shape" });
		const res = await client.request({ origin: server.origin, path: "/a?x=1", method: "POST", body: "hi", headers: { "content-type": "text/plain" } });
		assert.equal(res.statusCode, 200);
		assert.equal(res.headers["x-seen-method"], "POST");
		assert.deepEqual(await res.body.json(), { path: "/a?x=1", method: "POST", body: "hi" });
	});

	it("works as fetch's dispatcher, Node's global fetch and undici's", async () => {
		await using client = createHttpClient({ name: "fetch" });
		const a = await fetch(`${server.origin}/global`, { dispatcher: client } as RequestInit);
		assert.deepEqual(await a.json(), { path: "/global", method: "GET", body: "" });
		const b = await undiciFetch(`${server.origin}/undici`, { dispatcher: client, method: "PUT", body: "x" });
		assert.deepEqual(await b.json(), { path: "/undici", method: "PUT", body: "x" });
		assert.equal(client.stats().origins[server.origin].requests, 2);
	});

	it("as the global dispatcher, every fetch() is pooled and counted", async () => {
		const previous = getGlobalDispatcher();
		const client = createHttpClient({ name: "global" });
		setGlobalDispatcher(client);
		try {
			const res = await fetch(`${server.origin}/via-global`);
			assert.equal(res.status, 200);
			await res.text();
			await (await undiciRequest(`${server.origin}/undici-request`)).body.text();
			assert.equal(client.stats().origins[server.origin].requests, 2);
		} finally {
			setGlobalDispatcher(previous);
			await client.close();
		}
	});

	it("accepts controller-style handlers (undici 7 interceptors) too", async () => {
		await using client = createHttpClient({ name: "handler" });
		const chunks: Buffer[] = [];
		const status = await new Promise<number>((resolve, reject) => {
			let code = 0;
			const handler: Dispatcher.DispatchHandler = {
				onRequestStart() {},
				onResponseStart(_c, statusCode) {
					code = statusCode;
				},
				onResponseData(_c, chunk) {
					chunks.push(chunk);
				},
				onResponseEnd() {
					resolve(code);
				},
				onResponseError(_c, error) {
					reject(error);
				},
			};
			client.dispatch({ origin: server.origin, path: "/new-style", method: "GET" }, handler);
		});
		assert.equal(status, 200);
		assert.equal(JSON.parse(Buffer.concat(chunks).toString()).path, "/new-style");
	});

	it("composes with undici interceptors", async () => {
		await using client = createHttpClient({ name: "compose" });
		const tagged = client.compose((dispatch) => (opts, handler) => dispatch({ ...opts, path: `${opts.path}?composed=1` }, handler));
		const res = await tagged.request({ origin: server.origin, path: "/c", method: "GET" });
		assert.equal(((await res.body.json()) as { path: string }).path, "/c?composed=1");
		assert.equal(client.stats().origins[server.origin].requests, 1);
	});

	it("a request without an origin, or to a non-http origin, fails with a clear error", async () => {
		await using client = createHttpClient({ name: "bad" });
		await assert.rejects(client.request({ origin: "ftp://x", path: "/", method: "GET" }), /not an http\(s\) origin/);
	});
});

describe("HTTP client as a ManagedClient", () => {
	it("has kind http and one pool per origin, labelled with the origin", async () => {
		const client = createHttpClient({ name: "managed" });
		const managed: ManagedClient = client;
		assert.ok(client instanceof HttpClient);
		const res = await client.request({ origin: server.origin, path: "/", method: "GET" });
		await res.body.dump();
		assert.equal(client.kind, ClientKind.http);
		assert.deepEqual(
			client.pools().map((p) => p.label),
			[server.origin],
		);
		assert.equal(client.pools()[0].pool.stats().total, 1);
		assert.deepEqual(managed.breakers?.(), []);
		assert.equal((managed.details?.() as { name: string } | undefined)?.name, "managed");
		await client.close();
	});

	it("close() refuses an unknown option before closing anything", async () => {
		const client = createHttpClient({ name: "misspelt-close" });
		await client.request({ origin: server.origin, path: "/", method: "GET" }).then((r) => r.body.dump());
		await assert.rejects(client.close({ timoutMs: 0 } as never), /timoutMs: unknown close\(\) option \(did you mean "timeoutMs"\?\)/);
		// Still open: a request goes through.
		await client.request({ origin: server.origin, path: "/", method: "GET" }).then((r) => r.body.dump());
		await client.close();
	});

	it("close() leaves no socket open", async () => {
		const client = createHttpClient({ name: "closing" });
		await Promise.all(Array.from({ length: 4 }, (_, i) => client.request({ origin: server.origin, path: `/${i}`, method: "GET" }).then((r) => r.body.dump())));
		assert.ok(server.open() > 0);
		await client.close();
		for (let i = 0; i < 50 && server.open() > 0; i++) await new Promise((r) => setTimeout(r, 10));
		assert.equal(server.open(), 0);
		await assert.rejects(client.request({ origin: server.origin, path: "/", method: "GET" }), { code: "POOL_CLOSED" });
	});

	it("start() prewarms named origins: the first request finds an open connection", async () => {
		const before = server.accepted();
		await using client = createHttpClient({ name: "prewarm", prewarm: [{ origin: server.origin, connections: 2 }] });
		await client.start();
		assert.equal(client.stats().origins[server.origin].connected, 2);
		const res = await client.request({ origin: server.origin, path: "/", method: "GET" });
		await res.body.dump();
		assert.equal(server.accepted() - before, 2);
		assert.equal(client.stats().origins[server.origin].created, 2);
	});
});

describe("HTTP client options", () => {
	it("rejects unknown and invalid options, listing every problem", () => {
		assert.throws(
			() => createHttpClient({ maxConnections: 0, maxConnectionsPerOrigin: -1, bogus: true, prewarm: ["nope"], retry: 3 } as never),
			(e: ConfigError) =>
				e.code === "CONFIG_INVALID" &&
				["maxConnections", "maxConnectionsPerOrigin", "bogus", "prewarm[0]", "retry"].every((p) => e.problems.some((x) => x.path === p)),
		);
		assert.throws(() => createHttpClient({ maxConnections: 2, maxConnectionsPerOrigin: 5 }), /maxConnectionsPerOrigin/);
	});

	it("timeouts a timer cannot honour (Infinity, past 2^31-1 ms, strings) are refused with their paths; 0 stays 'none' where it was", () => {
		assert.throws(
			() =>
				createHttpClient({
					headersTimeoutMs: Number.POSITIVE_INFINITY,
					bodyTimeoutMs: 2 ** 31,
					connectTimeoutMs: Number.POSITIVE_INFINITY,
					keepAliveTimeoutMs: "4000",
					defaultCooldownMs: -1,
				} as never),
			(e: ConfigError) => {
				assert.equal(e.code, "CONFIG_INVALID");
				assert.deepEqual(e.problems.map((p) => p.path).sort(), [
					"bodyTimeoutMs",
					"connectTimeoutMs",
					"defaultCooldownMs",
					"headersTimeoutMs",
					"keepAliveTimeoutMs",
				]);
				assert.match(e.message, /headersTimeoutMs: must be finite \(at most 2147483647 ms\), got Infinity/);
				assert.match(e.message, /bodyTimeoutMs: must be at most 2147483647 ms .* got 2147483648/);
				return true;
			},
		);
		const client = createHttpClient({ headersTimeoutMs: 0, bodyTimeoutMs: 0, maxLifetimeMs: 0, acquireTimeoutMs: Number.POSITIVE_INFINITY });
		assert.equal(client.options.headersTimeoutMs, 0);
		void client.close();
	});

	it("retry, circuitBreaker and rateLimit problems are listed with the client's, under their paths", () => {
		assert.throws(
			() =>
				createHttpClient({
					maxWaiters: -1,
					retry: { maxDelayMs: 2 ** 31 },
					circuitBreaker: { halfOpenAfterMs: "5000" },
					rateLimit: { requestsPerMinute: -1 },
				} as never),
			(e: ConfigError) => {
				assert.deepEqual(e.problems.map((p) => p.path).sort(), [
					"circuitBreaker.halfOpenAfterMs",
					"maxWaiters",
					"rateLimit.requestsPerMinute",
					"retry.maxDelayMs",
				]);
				return true;
			},
		);
	});

	it("a per-call headers or body timeout past 2^31-1 ms (or Infinity) is CONFIG_INVALID, not a timeout after 1 ms", async () => {
		const client = createHttpClient({ name: "phase-timeouts" });
		try {
			for (const [key, value] of [
				["headersTimeoutMs", Number.POSITIVE_INFINITY],
				["bodyTimeoutMs", 2 ** 31],
				["headersTimeout", 2 ** 32],
				["bodyTimeout", "5"],
			] as const) {
				await assert.rejects(
					client.request({ origin: server.origin, path: "/", method: "GET", [key]: value } as never),
					(e: ConfigError) => e.code === "CONFIG_INVALID" && e.problems.some((p) => p.path === key),
					key,
				);
			}
			const ok = await client.request({ origin: server.origin, path: "/", method: "GET", headersTimeoutMs: 60_000, bodyTimeoutMs: 0 } as never);
			assert.equal(ok.statusCode, 200);
			await ok.body.dump();
			// null is undici's "the default" (its types allow number | null): accepted, as undici accepts it.
			const byDefault = await client.request({ origin: server.origin, path: "/", method: "GET", headersTimeout: null, bodyTimeout: null } as never);
			assert.equal(byDefault.statusCode, 200);
			await byDefault.body.dump();
		} finally {
			await client.close();
		}
	});

	it("defaults do not cut long LLM calls: headers 15 min (undici's is 5), body silence 5 min, no overall deadline", () => {
		assert.equal(HTTP_DEFAULTS.headersTimeoutMs, 900_000);
		assert.ok(HTTP_DEFAULTS.headersTimeoutMs > 300_000);
		assert.equal(HTTP_DEFAULTS.bodyTimeoutMs, 300_000);
		const client = createHttpClient();
		assert.equal(client.options.timeoutMs, undefined);
		assert.equal(client.options.allowH2, false);
	});
});
