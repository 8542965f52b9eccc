/** Caps: a global budget over all origins, a cap per origin, one bounded wait queue. */
import assert from "node:assert/strict";
import type http from "node:http";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createHttpClient, type HttpQueueFullError } from "../../src/adapters/http/index.ts";
import { startHttp, type TestServer } from "./support/servers.ts";

/** A server that holds each response until released, and counts requests in flight. */
async function holdingServer() {
	const held: http.ServerResponse[] = [];
	let inFlight = 0;
	let peak = 0;
	const server = await startHttp((_req, res) => {
		inFlight++;
		peak = Math.max(peak, inFlight);
		res.once("finish", () => inFlight--);
		held.push(res);
	});
	return {
		server,
		held,
		peak: () => peak,
		releaseAll: () => {
			for (const res of held.splice(0)) res.end("ok");
		},
	};
}

async function until(condition: () => boolean, ms = 2_000): Promise<void> {
	const end = Date.now() + ms;
	while (!condition()) {
		if (Date.now() > end) throw new Error("condition not met in time");
		await new Promise((r) => setTimeout(r, 5));
	}
}

let a: Awaited<ReturnType<typeof holdingServer>>;
let b: Awaited<ReturnType<typeof holdingServer>>;
beforeEach(async () => {
	a = await holdingServer();
	b = await holdingServer();
});
afterEach(async () => {
	a.releaseAll();
	b.releaseAll();
	await Promise.all([a.server.close(), b.server.close()]);
});

const get = (client: ReturnType<typeof createHttpClient>, s: TestServer<http.Server>, extra = {}) =>
	client.request({ origin: s.origin, path: "/", method: "GET", ...extra }).then(async (r) => {
		await r.body.text();
		return r.statusCode;
	});

describe("connection caps", () => {
	it("never opens more than maxConnectionsPerOrigin to one origin; the rest wait and are served", async () => {
		await using client = createHttpClient({ name: "per-origin", maxConnectionsPerOrigin: 3, maxConnections: 10 });
		const calls = Array.from({ length: 8 }, () => get(client, a.server));
		await until(() => a.held.length === 3);
		assert.equal(client.stats().origins[a.server.origin].pending, 5);
		while (a.held.length > 0 || (await Promise.race([Promise.all(calls).then(() => true), new Promise((r) => setTimeout(() => r(false), 20))])) === false) {
			a.releaseAll();
			await new Promise((r) => setTimeout(r, 5));
		}
		assert.deepEqual(await Promise.all(calls), Array(8).fill(200));
		assert.equal(a.peak(), 3);
		assert.equal(client.stats().origins[a.server.origin].created, 3);
	});

	it("never opens more than maxConnections over all origins", async () => {
		await using client = createHttpClient({ name: "global", maxConnectionsPerOrigin: 3, maxConnections: 4 });
		const calls = [...Array.from({ length: 3 }, () => get(client, a.server)), ...Array.from({ length: 3 }, () => get(client, b.server))];
		await until(() => a.held.length + b.held.length === 4);
		await new Promise((r) => setTimeout(r, 30));
		assert.equal(a.held.length + b.held.length, 4);
		assert.equal(client.stats().connections, 4);
		for (let i = 0; i < 20 && (a.held.length > 0 || b.held.length > 0 || client.stats().pending > 0); i++) {
			a.releaseAll();
			b.releaseAll();
			await new Promise((r) => setTimeout(r, 20));
		}
		assert.deepEqual(await Promise.all(calls), Array(6).fill(200));
	});

	it("a full queue refuses at once with POOL_QUEUE_FULL and the client's state", async () => {
		await using client = createHttpClient({ name: "queue", maxConnectionsPerOrigin: 1, maxConnections: 1, maxWaiters: 2 });
		const calls = [get(client, a.server)];
		await until(() => a.held.length === 1);
		calls.push(get(client, a.server), get(client, a.server));
		await until(() => client.stats().pending === 2);
		const started = Date.now();
		await assert.rejects(get(client, a.server), (e: HttpQueueFullError) => {
			assert.equal(e.code, "POOL_QUEUE_FULL");
			assert.deepEqual(
				{ waiters: e.state.waiters, maxWaiters: e.state.maxWaiters, connections: e.state.connections, origin: e.state.origin },
				{ waiters: 2, maxWaiters: 2, connections: 1, origin: a.server.origin },
			);
			assert.match(e.message, /http client "queue": the wait queue is full \(maxWaiters 2, 2 requests waiting\), refused at once/);
			return true;
		});
		assert.ok(Date.now() - started < 100, "refused at once");
		for (let i = 0; i < 20 && calls.length > 0; i++) {
			a.releaseAll();
			await new Promise((r) => setTimeout(r, 20));
		}
		assert.deepEqual(await Promise.all(calls), [200, 200, 200]);
	});

	it("a waiter gives up at acquireTimeoutMs with POOL_TIMEOUT, counted as an acquire timeout", async () => {
		await using client = createHttpClient({ name: "acquire", maxConnectionsPerOrigin: 1, maxConnections: 1, acquireTimeoutMs: 100 });
		const first = get(client, a.server);
		await until(() => a.held.length === 1);
		await assert.rejects(get(client, a.server), { code: "POOL_TIMEOUT" });
		assert.equal(client.stats().origins[a.server.origin].timeouts.acquire, 1);
		a.releaseAll();
		assert.equal(await first, 200);
	});
});
