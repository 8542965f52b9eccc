/**
 * The WebSocket manager against servers that fail: one that stops answering pings, a half-open
 * connection (a proxy that stops forwarding), a restart, a refused handshake, a policy close,
 * a server that stays down, and sends and reads while all that happens.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import {
	type CloseInfo,
	createWebSocketManager,
	StopReason,
	WebSocketQueueFullError,
	WebSocketReceiveOverflowError,
	WebSocketStoppedError,
} from "../../src/adapters/websocket/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { FaultServer } from "./fault-server.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Timing bounds are interval + deadline plus 300 ms of slack for a loaded 2-core machine. */

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
		await sleep(5);
	}
}

describe("heartbeat", () => {
	it("a server that stops answering pings is detected within ping interval + pong deadline, and the socket is replaced", async () => {
		await using server = await FaultServer.start();
		await using ws = createWebSocketManager({ pingIntervalMs: 100, pongTimeoutMs: 150, reconnectInitialMs: 10 });
		const c = await ws.connect({ url: server.url, name: "silent" });
		await sleep(250);
		assert.equal(c.state, "open", "pongs answered: still open");
		server.stopPongs();
		const stoppedAt = performance.now();
		const [info] = (await once(c, "close")) as [CloseInfo];
		const noticedMs = performance.now() - stoppedAt;
		assert.equal(info.heartbeatTimeout, true);
		assert.ok(noticedMs <= 100 + 150 + 2_000, `noticed after ${noticedMs.toFixed(0)} ms`);
		await c.opened({ timeoutMs: 2_000 });
		assert.equal(c.stats().heartbeatTimeouts, 1);
		assert.equal(ws.pools()[0].pool.stats().validationFailures, 1);
	});

	it("a half-open connection (the network stops delivering, nothing closes) is noticed in seconds, not never", async () => {
		await using server = await FaultServer.start();
		const proxy = await TcpProxy.start(server.port);
		try {
			await using ws = createWebSocketManager({ pingIntervalMs: 200, pongTimeoutMs: 300, reconnectInitialMs: 50 });
			const c = await ws.connect({ url: `ws://127.0.0.1:${proxy.port}/feed`, name: "half-open" });
			proxy.setMode("stall");
			const stalledAt = performance.now();
			const [info] = (await once(c, "close")) as [CloseInfo];
			const noticedMs = performance.now() - stalledAt;
			assert.equal(info.heartbeatTimeout, true);
			assert.equal(info.code, 1006);
			assert.ok(noticedMs <= 200 + 300 + 2_000, `noticed after ${noticedMs.toFixed(0)} ms`);
			proxy.setMode("pass");
			await c.opened({ timeoutMs: 3_000 });
		} finally {
			await proxy.close();
		}
	});

	it("a consumer far behind pauses the socket without the heartbeat killing it, and gets every message in order", async () => {
		await using server = await FaultServer.start({
			onMessage: (socket, text) => {
				for (let i = 0; i < Number(text); i++) socket.send(String(i));
			},
		});
		// A heartbeat short enough to pass several times while paused, long enough that a loaded machine's late timers miss no pong.
		await using ws = createWebSocketManager({ pingIntervalMs: 100, pongTimeoutMs: 250, receiveHighWaterMark: 10 });
		const c = await ws.connect({ url: server.url, name: "slow" });
		const reader = c.messages();
		await c.send("200");
		await until(() => c.stats().paused, 2_000, "the socket to pause");
		await sleep(600);
		assert.equal(c.state, "open", "paused for longer than the pong deadline, still open");
		const got: string[] = [];
		for await (const m of reader) {
			got.push(String(m));
			if (got.length === 200) break;
		}
		assert.deepEqual(
			got,
			Array.from({ length: 200 }, (_, i) => String(i)),
		);
		assert.equal(c.stats().paused, false);
		assert.equal(c.stats().heartbeatTimeouts, 0);
	});
});

describe("receive() and messages() on one connection", () => {
	it("a receive() buffer nobody reads any more does not stall messages(): it drops what it cannot keep and says so at the gap", async () => {
		await using server = await FaultServer.start({
			onMessage: (socket, text) => {
				const [from, count] = text.split(" ").map(Number);
				for (let i = from; i < from + count; i++) socket.send(String(i));
			},
		});
		await using ws = createWebSocketManager({ receiveHighWaterMark: 10 });
		const c = await ws.connect({ url: server.url, name: "mixed" });
		// receive() once: from now on its buffer keeps what arrives between calls.
		const first = c.receive({ timeoutMs: 5_000 });
		await c.send("0 1");
		assert.equal(await first, "0");
		// Then only an iterator reads. Before, the receive() buffer filled to 10, paused the socket, and the iterator waited forever.
		const reader = c.messages();
		await c.send("1 200");
		const got: string[] = [];
		while (got.length < 200) {
			// A stall is the failure, not a hang: 10 s is far more than 200 small messages on loopback take under any load.
			let timer: NodeJS.Timeout | undefined;
			const stalled = new Promise<never>((_, reject) => {
				timer = setTimeout(() => reject(new Error(`messages() stalled after ${got.length} messages (paused: ${c.stats().paused})`)), 10_000);
			});
			const next = await Promise.race([reader.next(), stalled]).finally(() => clearTimeout(timer));
			assert.equal(next.done, false);
			got.push(String(next.value));
		}
		assert.equal(c.stats().paused, false, "the full receive() buffer does not hold the socket while the iterator reads");
		await reader.return?.();
		assert.deepEqual(
			got,
			Array.from({ length: 200 }, (_, i) => String(i + 1)),
		);
		// receive() gets the 10 it kept, in order, then is told how many it missed, then goes on with new messages.
		// (Its reader again the only one, its full buffer holds the socket until it is read down to half.)
		for (let i = 1; i <= 10; i++) assert.equal(await c.receive({ timeoutMs: 5_000 }), String(i));
		assert.equal(c.stats().paused, false);
		await assert.rejects(c.receive({ timeoutMs: 5_000 }), (error: WebSocketReceiveOverflowError) => {
			assert.ok(error instanceof WebSocketReceiveOverflowError, String(error));
			assert.equal(error.code, ErrorCode.POOL_QUEUE_FULL);
			assert.equal(error.dropped, 190);
			assert.match(error.message, /receive\(\) missed 190 messages/);
			return true;
		});
		const next = c.receive({ timeoutMs: 5_000 });
		await c.send("500 1");
		assert.equal(await next, "500");
	});

	it("with no other reader, a full receive() buffer still holds the socket and loses nothing", async () => {
		await using server = await FaultServer.start({
			onMessage: (socket, text) => {
				for (let i = 0; i < Number(text); i++) socket.send(String(i));
			},
		});
		await using ws = createWebSocketManager({ receiveHighWaterMark: 10 });
		const c = await ws.connect({ url: server.url, name: "alone" });
		const first = c.receive({ timeoutMs: 5_000 });
		await c.send("100");
		assert.equal(await first, "0");
		await until(() => c.stats().paused, 5_000, "the socket to pause");
		for (let i = 1; i < 100; i++) assert.equal(await c.receive({ timeoutMs: 5_000 }), String(i));
		assert.equal(c.stats().paused, false);
	});
});

describe("reconnect after a server restart", () => {
	it("every client comes back, its subscriptions and onOpen re-run, with jittered (spread) reconnect times", async () => {
		const server = await FaultServer.start();
		try {
			const opens: { key: string; reconnect: boolean }[] = [];
			await using ws = createWebSocketManager({
				reconnectInitialMs: 400,
				reconnectMaxMs: 2_000,
				pingIntervalMs: 0,
				onOpen: (socket) => {
					opens.push({ key: socket.key, reconnect: socket.reconnect });
					return socket.send(`auth:${socket.key}`);
				},
			});
			const n = 40;
			await Promise.all(Array.from({ length: n }, (_, i) => ws.connect({ url: server.url, name: `c${i}` })));
			for (let i = 0; i < n; i++) await ws.subscribe(`c${i}`, `sub:c${i}`);
			server.received.length = 0;
			await server.stop();
			await until(() => ws.stats().open === 0, 2_000, "every client to notice");
			const restartedAt = performance.now();
			await server.restart();
			server.openTimes.length = 0;
			await until(() => ws.stats().open === n, 5_000, "every client back");
			const spread = server.openTimes.map((t) => t - restartedAt).sort((a, b) => a - b);
			assert.equal(spread.length, n, "one reconnect each: no storm of retries");
			assert.ok(spread[n - 1] - spread[0] > 200, `reconnects spread over ${(spread[n - 1] - spread[0]).toFixed(0)} ms`);
			const buckets = new Map<number, number>();
			for (const t of spread) buckets.set(Math.floor(t / 100), (buckets.get(Math.floor(t / 100)) ?? 0) + 1);
			assert.ok(Math.max(...buckets.values()) < n / 2, "no 100 ms window holds half the reconnects");
			await until(() => server.received.length === 2 * n, 2_000, "auth and subscription re-sent by everyone");
			for (let i = 0; i < n; i++) {
				const mine = server.received.filter((m) => m.endsWith(`:c${i}`));
				assert.deepEqual(mine, [`auth:c${i}`, `sub:c${i}`], "onOpen first, then the remembered subscription");
			}
			assert.equal(opens.filter((o) => o.reconnect).length, n);
			assert.equal(ws.stats().reconnects, n);
		} finally {
			await server.close();
		}
	});

	it("sends made while the server is down wait in the queue and are delivered in order after the reconnect", async () => {
		const server = await FaultServer.start({ onMessage: () => {} });
		try {
			await using ws = createWebSocketManager({ reconnectInitialMs: 50, pingIntervalMs: 0 });
			const c = await ws.connect({ url: server.url, name: "q" });
			await server.stop();
			await until(() => c.state !== "open", 1_000, "the close");
			const sends = ["one", "two", "three"].map((m) => c.send(m));
			assert.equal(c.stats().queued, 3);
			assert.equal(ws.pools()[0].pool.stats().pending, 3);
			await server.restart();
			await Promise.all(sends);
			await until(() => server.received.length === 3, 1_000, "the server to read them");
			assert.deepEqual(server.received, ["one", "two", "three"]);
			const view = ws.pools()[0].pool.stats();
			assert.equal(view.pending, 0);
			assert.equal(view.peak.pending, 3, "the peak is the most that waited, not what waits now");
			ws.pools()[0].pool.resetStats();
			assert.equal(ws.pools()[0].pool.stats().peak.pending, 0, "a new window");
		} finally {
			await server.close();
		}
	});

	it("past maxQueuedMessages a send is refused with POOL_QUEUE_FULL; the queue never grows past its bound", async () => {
		const server = await FaultServer.start();
		try {
			await using ws = createWebSocketManager({ reconnectInitialMs: 5_000, maxQueuedMessages: 3, maxQueuedBytes: 1_000, pingIntervalMs: 0 });
			const c = await ws.connect({ url: server.url, name: "bounded" });
			await server.stop();
			await until(() => c.state === "waiting", 1_000, "the close");
			const queued = [c.send("a"), c.send("b"), c.send("c")];
			for (const p of queued) p.catch(() => {});
			await assert.rejects(c.send("d"), (e: unknown) => e instanceof WebSocketQueueFullError && e.code === ErrorCode.POOL_QUEUE_FULL);
			assert.equal(c.stats().queued, 3);
			await ws.disconnect("bounded");
			const outcomes = await Promise.allSettled(queued);
			assert.ok(
				outcomes.every((o) => o.status === "rejected"),
				"queued sends fail when the connection closes, nothing hangs",
			);
			const c2 = ws.add({ url: server.url, name: "bytes" });
			await assert.rejects(c2.send("x".repeat(1_001)), WebSocketQueueFullError, "maxQueuedBytes bounds the bytes too");
		} finally {
			await server.close();
		}
	});
});

describe("when not to reconnect", () => {
	it("a handshake refused with 403 stops at once: one attempt, no retry loop, sends and connect() fail with the reason", async () => {
		await using server = await FaultServer.start({ refuseWith: 403 });
		await using ws = createWebSocketManager({ reconnectInitialMs: 10, reconnectMaxMs: 20 });
		const error = await ws.connect({ url: server.url, name: "denied" }).catch((e: unknown) => e);
		assert.ok(error instanceof WebSocketStoppedError, String(error));
		assert.equal(error.code, ErrorCode.CONNECTION_LOST);
		assert.equal(error.reason, StopReason.refused);
		assert.equal(error.handshakeStatus, 403);
		await sleep(300);
		assert.equal(server.handshakes, 1, "no retry");
		const c = ws.get("denied");
		assert.equal(c.state, "stopped");
		assert.equal(c.stats().lastClose?.handshakeStatus, 403);
		await assert.rejects(c.send("x"), WebSocketStoppedError);
		assert.equal(ws.pools()[0].pool.stats().healthScore, 0);
	});

	it("reconnect() tries again after a stop: here once the server lets the client in", async () => {
		await using server = await FaultServer.start({ refuseWith: 401 });
		await using ws = createWebSocketManager();
		const c = ws.add({ url: server.url, name: "later" });
		await assert.rejects(c.opened(), (e: unknown) => e instanceof WebSocketStoppedError && e.handshakeStatus === 401);
		server.options.refuseWith = undefined;
		c.reconnect();
		await c.opened({ timeoutMs: 2_000 });
		assert.equal(server.handshakes, 2);
	});

	it("a policy close (1008) stops; a custom shouldReconnect decides for other codes", async () => {
		await using server = await FaultServer.start({
			onMessage: (socket, text) => socket.close(Number(text), "bye"),
		});
		await using ws = createWebSocketManager({ reconnectInitialMs: 10 });
		const c = await ws.connect({ url: server.url, name: "policy" });
		await c.send("1008");
		const [stopped] = (await once(c, "stopped")) as [WebSocketStoppedError];
		assert.equal(stopped.reason, StopReason.policy);
		assert.equal(stopped.closeCode, 1008);
		const seen: CloseInfo[] = [];
		const own = await ws.connect({
			url: server.url,
			name: "custom",
			shouldReconnect: (close) => {
				seen.push(close);
				return close.code !== 4001;
			},
		});
		await own.send("4001");
		const [declined] = (await once(own, "stopped")) as [WebSocketStoppedError];
		assert.equal(declined.reason, StopReason.declined);
		assert.equal(seen[0].code, 4001);
		assert.equal(seen[0].reason, "bye");
		assert.equal(seen[0].wasOpen, true);
	});

	it("a server that stays down: maxRetries failed attempts, backing off, then stopped (retriesExhausted); reconnect() revives it", async () => {
		const server = await FaultServer.start();
		try {
			const delays: number[] = [];
			await using ws = createWebSocketManager({ reconnectInitialMs: 20, reconnectMaxMs: 80, maxRetries: 4, pingIntervalMs: 0 });
			const c = await ws.connect({ url: server.url, name: "gone" });
			c.on("reconnecting", (e) => delays.push(e.delayMs));
			await server.stop();
			const [stopped] = (await once(c, "stopped")) as [WebSocketStoppedError];
			assert.equal(stopped.reason, StopReason.retriesExhausted);
			assert.equal(delays.length, 4, "the first close and three failed attempts were retried; the fifth failure stops");
			const ceilings = [20 * 2, 20 * 4, 80, 80];
			for (const [i, d] of delays.entries()) assert.ok(d >= 0 && d <= ceilings[i], `delay ${i} = ${d} within [0, ${ceilings[i]}]`);
			await server.restart();
			c.reconnect();
			await c.opened({ timeoutMs: 2_000 });
		} finally {
			await server.close();
		}
	});
});

describe("subscriptions and the open hook", () => {
	it("an onOpen that throws counts as a failed attempt and is retried; an unsubscribed message is not re-sent", async () => {
		const server = await FaultServer.start({ onMessage: () => {} });
		try {
			let calls = 0;
			await using ws = createWebSocketManager({
				reconnectInitialMs: 20,
				pingIntervalMs: 0,
				onOpen: () => {
					calls++;
					if (calls === 2) throw new Error("auth service down");
				},
			});
			const c = await ws.connect({ url: server.url, name: "hooked" });
			const keep = await c.subscribe("sub:keep");
			const drop = await c.subscribe("sub:drop");
			await drop.unsubscribe("unsub:drop");
			await until(() => server.received.length === 3, 1_000, "three messages");
			server.received.length = 0;
			server.dropAll();
			await until(() => calls >= 3 && c.state === "open", 2_000, "the retry after the failing hook");
			await until(() => server.received.length === 1, 1_000, "the kept subscription");
			assert.deepEqual(server.received, ["sub:keep"]);
			assert.equal(c.stats().failedAttempts, 2, "the cut (open < 5 s) and the failed hook");
			assert.equal(keep.message, "sub:keep");
		} finally {
			await server.close();
		}
	});

	it("while open, a server that does not read makes sends fail at maxQueuedBytes instead of buffering without bound", async () => {
		await using server = await FaultServer.start({ onMessage: () => {} });
		await using ws = createWebSocketManager({ maxQueuedBytes: 256 * 1024, pingIntervalMs: 0 });
		const c = await ws.connect({ url: server.url, name: "slow-server" });
		for (const socket of server.sockets) (socket as unknown as { _socket: { pause(): void } })._socket.pause();
		const chunk = Buffer.alloc(64 * 1024);
		let refused: unknown;
		const pending: Promise<void>[] = [];
		for (let i = 0; i < 200 && refused === undefined; i++) {
			const p = c.send(chunk);
			p.catch((e: unknown) => (refused = e));
			pending.push(p);
			await new Promise((r) => setImmediate(r));
		}
		assert.ok(refused instanceof WebSocketQueueFullError, "refused once the socket's unwritten bytes pass the bound");
	});
});

describe("subscribing while the socket opens", () => {
	it("a subscribe() made while the socket is opening (its hook still running) is sent on that open, once", async () => {
		await using server = await FaultServer.start({ onMessage: () => {} });
		let release!: () => void;
		const hookDone = new Promise<void>((r) => (release = r));
		await using ws = createWebSocketManager({ pingIntervalMs: 0, onOpen: () => hookDone });
		const c = ws.add({ url: server.url, name: "racing" });
		await until(() => server.sockets.size === 1, 2_000, "the handshake");
		const subscribed = c.subscribe("sub:late");
		release();
		await c.opened({ timeoutMs: 2_000 });
		await subscribed;
		await until(() => server.received.length === 1, 1_000, "the subscription");
		assert.deepEqual(server.received, ["sub:late"]);
	});
});
