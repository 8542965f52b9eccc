/** Keep-alive: reuse, idle expiry from the server's hint, dead connections replaced and retried, lifetime, connect failures. */
import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import tls from "node:tls";
import { createHttpClient } from "../../src/adapters/http/index.ts";
import { eventually } from "../support/wait.ts";
import { selfSignedCert } from "./support/cert.ts";
import { startHttp } from "./support/servers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function text(client: ReturnType<typeof createHttpClient>, origin: string, method = "GET", body?: string) {
	const res = await client.request({ origin, path: "/", method: method as "GET", body });
	return `${res.statusCode} ${await res.body.text()}`;
}

/**
 * A raw HTTP/1.1 server: answers the first request of each connection with a keep-alive
 * response (no Keep-Alive hint) and resets the connection (RST) when a second one arrives,
 * as a server that closed an idle connection a moment before the client reused it.
 */
async function resettingServer() {
	let connections = 0;
	const sockets = new Set<net.Socket>();
	const server = net.createServer((socket) => {
		connections++;
		sockets.add(socket);
		socket.once("close", () => sockets.delete(socket));
		let seen = "";
		let served = 0;
		socket.on("data", (chunk) => {
			seen += chunk.toString("latin1");
			const requests = seen.match(/(GET|POST) \/ HTTP\/1\.1/g)?.length ?? 0;
			if (requests > 1) return socket.resetAndDestroy();
			if (requests === 1 && served === 0 && seen.includes("\r\n\r\n")) {
				served = 1;
				socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${String(connections).length}\r\n\r\n${connections}`);
			}
		});
		socket.on("error", () => {});
	});
	await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
	return {
		origin: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
		connections: () => connections,
		close: () =>
			new Promise<void>((r) => {
				for (const s of sockets) s.destroy();
				server.close(() => r());
			}),
	};
}

describe("keep-alive", () => {
	it("reuses one connection for sequential requests and reports the reuse ratio", async () => {
		const server = await startHttp((_req, res) => res.end("ok"));
		await using client = createHttpClient({ name: "reuse" });
		for (let i = 0; i < 5; i++) assert.equal(await text(client, server.origin), "200 ok");
		const s = client.stats().origins[server.origin];
		assert.equal(server.accepted(), 1);
		assert.equal(s.created, 1);
		assert.equal(s.reuseRatio, 0.8);
		assert.equal(client.stats().reuseRatio, 0.8);
		assert.equal(s.connectMs.count, 1);
		assert.ok(s.connectMs.p50 > 0);
		assert.equal(s.waitMs.count, 5);
		assert.deepEqual([s.connected, s.free, s.running, s.pending, s.responses["2xx"], s.errors], [1, 1, 0, 0, 5, 0]);
		await server.close();
	});

	it("closes an idle connection at the server's Keep-Alive timeout minus the margin, before the server does", async () => {
		// node:http answers `Keep-Alive: timeout=2`; with a 1 s margin the client closes after 1 s.
		const server = await startHttp((_req, res) => res.end("ok"), { keepAliveTimeout: 2_000 });
		await using client = createHttpClient({ name: "hint", keepAliveMarginMs: 1_000, keepAliveTimeoutMs: 30_000 });
		await text(client, server.origin);
		// Half-way to the client's close at 1 s: 500 ms of room for a sleep that runs late on a loaded machine (700 left 300).
		await sleep(500);
		assert.equal(server.open(), 1, "still open before hint minus margin");
		// Polled: the server sees the close a moment after the client's 1 s timer, later under load.
		// keepAliveExpired below says it was the client that closed it, not the server at its 2 s.
		assert.ok(await eventually(() => server.open() === 0, 5_000), "closed by the client after hint minus margin");
		const s = client.stats().origins[server.origin];
		assert.equal(s.socketClosedBy.keepAliveExpired, 1);
		assert.equal(s.connected, 0);
		assert.equal(await text(client, server.origin), "200 ok");
		assert.equal(client.stats().origins[server.origin].created, 2);
		await server.close();
	});

	it("without a hint, closes an idle connection after keepAliveTimeoutMs", async () => {
		const server = await resettingServer();
		await using client = createHttpClient({ name: "no-hint", keepAliveTimeoutMs: 200 });
		await text(client, server.origin);
		assert.ok(
			await eventually(() => client.stats().origins[server.origin].socketClosedBy.keepAliveExpired === 1, 5_000),
			JSON.stringify(client.stats().origins[server.origin].socketClosedBy),
		);
		assert.equal(await text(client, server.origin), "200 2");
		await server.close();
	});

	it("a keep-alive connection the server reset is replaced, and the idempotent request retried once on a new one", async () => {
		const server = await resettingServer();
		await using client = createHttpClient({ name: "stale" });
		assert.equal(await text(client, server.origin), "200 1");
		assert.equal(await text(client, server.origin), "200 2", "answered on the second connection");
		const s = client.stats().origins[server.origin];
		assert.equal(s.staleRetries, 1);
		assert.equal(s.errors, 0);
		assert.equal(s.created, 2);
		await server.close();
	});

	it("a POST that met a reset connection is not sent again: the error reaches the caller", async () => {
		const server = await resettingServer();
		await using client = createHttpClient({ name: "stale-post" });
		assert.equal(await text(client, server.origin, "POST", "{}"), "200 1");
		await assert.rejects(text(client, server.origin, "POST", "{}"), (e: Error & { code?: string }) => ["ECONNRESET", "UND_ERR_SOCKET"].includes(e.code ?? ""));
		assert.equal(server.connections(), 1);
		assert.equal(client.stats().origins[server.origin].staleRetries, 0);
		await server.close();
	});

	it("retires a connection after maxLifetimeMs", async () => {
		const server = await startHttp((_req, res) => res.end("ok"));
		await using client = createHttpClient({ name: "lifetime", maxLifetimeMs: 150 });
		await text(client, server.origin);
		await sleep(300);
		await text(client, server.origin);
		const s = client.stats().origins[server.origin];
		assert.equal(s.created, 2);
		assert.equal(s.closedByReason.lifetime, 1);
		await server.close();
	});
});

describe("connecting", () => {
	it("a server that accepts TCP but never completes TLS fails at connectTimeoutMs", async () => {
		const sockets = new Set<net.Socket>();
		const silent = net.createServer((s) => {
			sockets.add(s);
			s.on("error", () => {});
		});
		await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
		const origin = `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
		await using client = createHttpClient({ name: "connect-timeout", connectTimeoutMs: 200 });
		const started = Date.now();
		await assert.rejects(client.request({ origin, path: "/", method: "GET" }), { code: "UND_ERR_CONNECT_TIMEOUT" });
		assert.ok(Date.now() - started < 1_500, `failed after ${Date.now() - started} ms`);
		assert.equal(client.stats().origins[origin].timeouts.connect, 1);
		for (const s of sockets) s.destroy();
		await new Promise((r) => silent.close(r));
	});

	it("a call whose connection expired while idle waits on a hanging connect, and leaves the queue at its own signal", async () => {
		// The first connection speaks TLS and answers with keep-alive; later ones accept TCP and never
		// answer the handshake, so a new connection hangs until connectTimeoutMs.
		const { key, cert } = selfSignedCert();
		const sockets = new Set<net.Socket>();
		let accepted = 0;
		const server = net.createServer((raw) => {
			sockets.add(raw);
			raw.on("error", () => {});
			if (++accepted > 1) return;
			const socket = new tls.TLSSocket(raw, { isServer: true, key, cert });
			socket.on("error", () => {});
			socket.on("data", () => socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
		});
		await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
		const origin = `https://localhost:${(server.address() as net.AddressInfo).port}`;
		await using client = createHttpClient({
			name: "perished-abort",
			allowH2: false,
			tls: { ca: cert },
			maxLifetimeMs: 100,
			connectTimeoutMs: 20_000,
			acquireTimeoutMs: 30_000,
		});
		assert.equal(await text(client, origin), "200 ok");
		await sleep(150);
		const started = Date.now();
		await assert.rejects(client.request({ origin, path: "/", method: "GET", signal: AbortSignal.timeout(100) }));
		assert.ok(Date.now() - started < 2_000, `gave up after ${Date.now() - started} ms, not at its signal`);
		assert.equal(accepted, 2, "the retired connection was replaced by a connect that hung");
		// The call left the pool's queue with its signal, not when the connect gives up 20 s later.
		assert.equal(client.stats().pending, 0);
		for (const s of sockets) s.destroy();
		await new Promise((r) => server.close(r));
	});

	it("a refused connection fails the request at once, not at acquireTimeoutMs", async () => {
		const probe = net.createServer();
		await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
		const port = (probe.address() as net.AddressInfo).port;
		await new Promise((r) => probe.close(r));
		await using client = createHttpClient({ name: "refused", acquireTimeoutMs: 30_000 });
		const started = Date.now();
		await assert.rejects(client.request({ origin: `http://127.0.0.1:${port}`, path: "/", method: "GET" }), { code: "ECONNREFUSED" });
		assert.ok(Date.now() - started < 1_000, `failed after ${Date.now() - started} ms`);
	});
});
