/** The WebSocket manager against real `ws` servers on loopback: connect, send, receive, limits, statistics, ManagedClient. */
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import {
	createWebSocketManager,
	WebSocketClosedError,
	WebSocketLimitError,
	WebSocketNotFoundError,
	WebSocketReceiveTimeoutError,
} from "../../src/adapters/websocket/index.ts";
import { ConfigError, ErrorCode } from "../../src/core/errors.ts";
import { eventually } from "../support/wait.ts";
import { FaultServer } from "./fault-server.ts";

describe("connect, send, receive (seed 001's shape)", () => {
	let server: FaultServer;
	before(async () => {
		server = await FaultServer.start();
	});
	after(() => server.close());

	it("connect(url) resolves open; send(url, msg) and receive(url) round-trip through the server", async () => {
		await using ws = createWebSocketManager({ name: "feeds" });
		const connection = await ws.connect(server.url);
		assert.equal(connection.state, "open");
		await ws.send(server.url, "hello");
		assert.equal(await ws.receive(server.url, { timeoutMs: 2_000 }), "hello");
	});

	it("objects are sent as JSON text, bytes as binary frames (received as Buffers)", async () => {
		await using ws = createWebSocketManager();
		await ws.connect({ url: server.url, name: "json" });
		await ws.send("json", { op: "ping", n: 1 });
		assert.deepEqual(JSON.parse(String(await ws.receive("json", { timeoutMs: 2_000 }))), { op: "ping", n: 1 });
		await ws.send("json", Buffer.from([1, 2, 3]));
		const bytes = await ws.receive("json", { timeoutMs: 2_000 });
		assert.ok(Buffer.isBuffer(bytes));
		assert.deepEqual([...bytes], [1, 2, 3]);
	});

	it("messages arriving between receive() calls are kept, in order", async () => {
		await using ws = createWebSocketManager();
		const c = await ws.connect({ url: server.url, name: "kept" });
		const first = c.receive({ timeoutMs: 2_000 });
		await Promise.all(["a", "b", "c"].map((m) => c.send(m)));
		assert.equal(await first, "a");
		assert.equal(await c.receive({ timeoutMs: 2_000 }), "b");
		assert.equal(await c.receive({ timeoutMs: 2_000 }), "c");
	});

	it("messages come as events and through any number of async iterators", async () => {
		await using ws = createWebSocketManager();
		const c = await ws.connect({ url: server.url, name: "iter" });
		const events: unknown[] = [];
		c.on("message", (data) => events.push(data));
		const iterated: unknown[] = [];
		const reading = (async () => {
			for await (const m of ws.messages("iter")) {
				iterated.push(m);
				if (iterated.length === 3) break;
			}
		})();
		for (const m of ["1", "2", "3"]) await c.send(m);
		await reading;
		assert.deepEqual(iterated, ["1", "2", "3"]);
		assert.deepEqual(events, ["1", "2", "3"]);
	});

	it("receive() with timeoutMs rejects with QUERY_TIMEOUT when nothing comes", async () => {
		await using ws = createWebSocketManager();
		await ws.connect({ url: server.url, name: "quiet", onOpen: () => {} });
		await assert.rejects(
			ws.receive("quiet", { timeoutMs: 50 }),
			(e: unknown) => e instanceof WebSocketReceiveTimeoutError && e.code === ErrorCode.QUERY_TIMEOUT,
		);
	});

	it("statistics count messages and bytes each way and the heartbeat round trip", async () => {
		await using ws = createWebSocketManager({ pingIntervalMs: 20, pongTimeoutMs: 1_000 });
		const c = await ws.connect({ url: server.url, name: "counted" });
		await c.send("12345");
		await c.receive({ timeoutMs: 2_000 });
		// Pings go every 20 ms, but a loaded machine may not have had two round trips in a fixed 100 ms.
		assert.ok(await eventually(() => ws.stats().byKey.counted.rttMs.summary.count >= 2, 5_000), "two heartbeat round trips measured");
		const s = ws.stats();
		assert.equal(s.open, 1);
		assert.equal(s.messagesOut, 1);
		assert.equal(s.messagesIn, 1);
		assert.equal(s.bytesOut, 5);
		assert.equal(s.bytesIn, 5);
		const own = s.byKey.counted;
		assert.ok(own.rttMs.last !== undefined && own.rttMs.last < 5_000, `rtt ${own.rttMs.last}`);
		assert.ok(own.rttMs.summary.count >= 2);
	});
});

describe("limits and errors", () => {
	let server: FaultServer;
	before(async () => {
		server = await FaultServer.start();
	});
	after(() => server.close());

	it("a per-call timeoutMs no timer can honour (connect, receive) is CONFIG_INVALID, not a timeout after 1 ms", async () => {
		// Before: -1, NaN and 2^31 armed a 1 ms timer ("not open after NaN ms"), and "500" was taken as a number.
		await using ws = createWebSocketManager();
		const c = await ws.connect({ url: server.url, name: "deadlines" });
		for (const timeoutMs of [-1, Number.NaN, 2 ** 31, "500"]) {
			await assert.rejects(ws.connect({ url: server.url, name: "deadlines" }, { timeoutMs: timeoutMs as number }), (e: unknown) => {
				assert.ok(e instanceof ConfigError, `connect ${String(timeoutMs)}: ${String(e)}`);
				assert.equal(e.problems[0]?.path, "timeoutMs");
				return true;
			});
			await assert.rejects(c.receive({ timeoutMs: timeoutMs as number }), ConfigError, `receive ${String(timeoutMs)}`);
			await assert.rejects(c.opened({ timeoutMs: timeoutMs as number }), ConfigError, `opened ${String(timeoutMs)}`);
		}
		await assert.rejects(ws.close({ timeoutMs: -1 }), ConfigError);
		await assert.rejects(ws.close({ timeutMs: 100 } as never), /timeutMs: unknown close\(\) option \(did you mean "timeoutMs"\?\)/);
		// The connection is untouched by the refused calls.
		await ws.send("deadlines", "still here");
		assert.equal(await c.receive({ timeoutMs: 2_000 }), "still here");
	});

	it("a name already taken by another URL is a CONFIG_INVALID, not the other connection handed back", async () => {
		await using ws = createWebSocketManager();
		const first = await ws.connect({ url: server.url, name: "feed" });
		assert.equal(ws.add({ url: server.url, name: "feed" }), first, "the same name and URL: the same connection");
		assert.throws(
			() => ws.add({ url: `${server.url}?token=s3cret`, name: "feed" }),
			(e: unknown) => e instanceof ConfigError && e.problems[0]?.path === "name" && !/s3cret/.test(e.message),
		);
	});

	it("refuses a connection past maxConnections with POOL_QUEUE_FULL; disconnect frees the slot", async () => {
		await using ws = createWebSocketManager({ maxConnections: 2 });
		await ws.connect({ url: server.url, name: "a" });
		await ws.connect({ url: server.url, name: "b" });
		assert.throws(
			() => ws.add({ url: server.url, name: "c" }),
			(e: unknown) => e instanceof WebSocketLimitError && e.code === ErrorCode.POOL_QUEUE_FULL,
		);
		assert.equal(ws.add({ url: server.url, name: "a" }), ws.get("a"), "an existing key is returned, not counted again");
		await ws.disconnect("a");
		await ws.connect({ url: server.url, name: "c" });
		assert.deepEqual(
			ws.connections().map((c) => c.key),
			["b", "c"],
		);
	});

	it("an unknown key is POOL_NOT_FOUND; a closed manager refuses new connections and fails waiting receivers", async () => {
		const ws = createWebSocketManager();
		await assert.rejects(ws.send("nope", "x"), (e: unknown) => e instanceof WebSocketNotFoundError && e.code === ErrorCode.POOL_NOT_FOUND);
		const c = await ws.connect({ url: server.url, name: "x", onOpen: () => {} });
		const waiting = assert.rejects(c.receive(), (e: unknown) => e instanceof WebSocketClosedError);
		await ws.close();
		await waiting;
		assert.throws(
			() => ws.add(server.url),
			(e: unknown) => e instanceof WebSocketClosedError && e.code === ErrorCode.POOL_CLOSED,
		);
		await assert.rejects(c.send("late"), WebSocketClosedError);
	});

	it("bad options are one CONFIG_INVALID error listing every problem", () => {
		assert.throws(
			() => createWebSocketManager({ maxConnections: 0, pingIntervalMs: -1, reconnectInitialMs: 5_000, reconnectMaxMs: 100, bogus: 1 } as never),
			(e: unknown) => {
				assert.ok(e instanceof ConfigError);
				const paths = e.problems.map((p) => p.path).sort();
				assert.deepEqual(paths, ["bogus", "maxConnections", "pingIntervalMs", "reconnectInitialMs"]);
				return true;
			},
		);
		const ws = createWebSocketManager();
		assert.throws(
			() => ws.add({ url: "http://x", maxQueuedMessages: 0 }),
			(e: unknown) => e instanceof ConfigError && e.problems.length === 2,
		);
	});

	it("durations a timer cannot honour are refused with their path: past 2^31-1 ms, NaN, Infinity", () => {
		// Node fires a timer longer than 2^31-1 ms after 1 ms: a "24.9-day" ping interval would ping every millisecond.
		assert.throws(
			() => createWebSocketManager({ pingIntervalMs: 2 ** 31, reconnectMaxMs: Number.POSITIVE_INFINITY, handshakeTimeoutMs: Number.NaN }),
			(e: unknown) => {
				assert.ok(e instanceof ConfigError);
				assert.deepEqual(e.problems.map((p) => p.path).sort(), ["handshakeTimeoutMs", "pingIntervalMs", "reconnectMaxMs"]);
				assert.match(e.message, /NaN/);
				return true;
			},
		);
		const ws = createWebSocketManager();
		assert.throws(
			() => ws.add({ url: "ws://127.0.0.1:1/x", pongTimeoutMs: 2 ** 32 }),
			(e: unknown) => e instanceof ConfigError && e.problems[0]?.path === "pongTimeoutMs",
		);
	});

	it("a zero reconnect delay is refused: the backoff doubles it, so it would stay 0 and hammer a failing server", () => {
		// Measured before the fix: 557 handshakes in one second against a server answering 503.
		assert.throws(
			() => createWebSocketManager({ reconnectInitialMs: 0 }),
			(e: unknown) => e instanceof ConfigError && e.problems.map((p) => p.path).join() === "reconnectInitialMs",
		);
		const ws = createWebSocketManager();
		assert.throws(
			() => ws.add({ url: "ws://127.0.0.1:1/x", reconnectInitialMs: 0, reconnectMaxMs: 0 }),
			(e: unknown) =>
				e instanceof ConfigError &&
				e.problems
					.map((p) => p.path)
					.sort()
					.join() === "reconnectInitialMs,reconnectMaxMs",
		);
	});

	it("a token in the URL appears in no label, statistic or error", async () => {
		await using ws = createWebSocketManager();
		const url = `ws://user:s3cret@127.0.0.1:${server.port}/feed?token=t0ps3cret`;
		const c = await ws.connect(url);
		const shown = JSON.stringify([c.label, ws.stats(), ws.details(), ws.pools().map((p) => [p.label, p.pool.stats()])]);
		assert.doesNotMatch(shown, /s3cret|t0ps3cret/);
		assert.match(c.label, /^ws:\/\/127\.0\.0\.1:\d+\/feed\?…$/);
		const error = await ws.send(`ws://user:s3cret@127.0.0.1:1/other?token=t0ps3cret`, "x").catch((e: Error) => e);
		assert.ok(error instanceof WebSocketNotFoundError);
		assert.doesNotMatch(error.message, /s3cret/);
	});
});

describe("ManagedClient", () => {
	let server: FaultServer;
	before(async () => {
		server = await FaultServer.start();
	});
	after(() => server.close());

	it("kind websocket; each connection a pool of one with its name as label; start() waits for every open; close() closes all", async () => {
		const ws = createWebSocketManager({ name: "ticker" });
		assert.equal(ws.kind, "websocket");
		assert.equal(ws.name, "ticker");
		ws.add({ url: server.url, name: "btc" });
		ws.add({ url: server.url, name: "eth" });
		await ws.start();
		const pools = ws.pools();
		assert.deepEqual(
			pools.map((p) => p.label),
			["btc", "eth"],
		);
		const stats = pools[0].pool.stats();
		assert.equal(stats.name, "ticker[btc]");
		assert.equal(stats.active, 1);
		assert.equal(stats.total, 1);
		assert.equal(stats.created, 1);
		assert.equal(stats.healthScore, 100);
		assert.equal(stats.createMs.count, 1);
		assert.equal(server.sockets.size, 2);
		const closing = once(server.sockets.values().next().value!, "close");
		await ws.close({ timeoutMs: 2_000 });
		const [code] = (await closing) as [number];
		assert.equal(code, 1001, "the server hears going away");
		assert.equal(ws.connections().length, 0);
	});
});

describe("URLs ws refuses", () => {
	it("a #fragment is a CONFIG_INVALID at add(); headers ws cannot send stop the connection without quoting the URL", async () => {
		await using ws = createWebSocketManager();
		assert.throws(
			() => ws.add("ws://127.0.0.1:1/feed#token=abc"),
			(e: unknown) => e instanceof ConfigError && !/token=abc/.test(e.message),
		);
		const c = ws.add({ url: "ws://127.0.0.1:1/feed?token=s3cret", name: "bad-header", headers: { "x-bad": "line\nbreak" } });
		const error = await c.opened().catch((e: unknown) => e);
		assert.ok(error instanceof Error && (error as { code?: string }).code === ErrorCode.CONNECTION_LOST, String(error));
		assert.doesNotMatch(error.message, /s3cret/);
		assert.equal(c.state, "stopped");
	});
});
