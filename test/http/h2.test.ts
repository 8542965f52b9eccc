/** HTTP/2 and TLS: off by default, streams counted apart from connections, a cold burst on one socket, GOAWAY re-sends. */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { describe, it } from "node:test";
import { createHttpClient } from "../../src/adapters/http/index.ts";
import { startHttp2, startHttps, tlsOptions } from "./support/servers.ts";

const reply = (stream: http2.ServerHttp2Stream, delayMs = 0) =>
	setTimeout(() => {
		if (stream.destroyed) return;
		stream.respond({ ":status": 200, "content-type": "text/plain" });
		stream.end(`stream ${stream.id}`);
	}, delayMs);

async function get(client: ReturnType<typeof createHttpClient>, origin: string) {
	const res = await client.request({ origin, path: "/", method: "GET" });
	return { status: res.statusCode, body: await res.body.text() };
}

describe("TLS", () => {
	it("talks to a server whose certificate the client trusts through tls.ca", async (t) => {
		const server = await startHttps((_req, res) => res.end("secure"));
		t.after(() => server.close());
		await using client = createHttpClient({ name: "tls", tls: tlsOptions() });
		assert.deepEqual(await get(client, server.origin), { status: 200, body: "secure" });
		assert.ok(client.stats().origins[server.origin].connectMs.count >= 1);
	});

	it("refuses a certificate it does not trust", async (t) => {
		const server = await startHttps((_req, res) => res.end("secure"));
		t.after(() => server.close());
		await using client = createHttpClient({ name: "tls-untrusted" });
		await assert.rejects(get(client, server.origin), (e: Error & { code?: string }) => /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/.test(e.code ?? ""));
	});
});

describe("HTTP/2", () => {
	it("is off by default: an HTTP/2 server that also speaks HTTP/1.1 is used over HTTP/1.1", async (t) => {
		const server = await startHttp2((stream) => reply(stream), { allowHTTP1: true });
		t.after(() => server.close());
		(server.server as unknown as http2.Http2SecureServer).on("request", (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
			if (req.httpVersion === "1.1") res.end("h1");
		});
		await using client = createHttpClient({ name: "h2-off", tls: tlsOptions() });
		assert.deepEqual(await get(client, server.origin), { status: 200, body: "h1" });
		assert.equal(client.stats().origins[server.origin].protocol, "http/1.1");
	});

	it("with allowH2, a cold burst of 20 requests opens one connection and runs them as streams", async (t) => {
		const server = await startHttp2((stream) => reply(stream, 30));
		t.after(() => server.close());
		await using client = createHttpClient({ name: "h2-burst", tls: tlsOptions(), allowH2: true });
		const results = await Promise.all(Array.from({ length: 20 }, () => get(client, server.origin)));
		assert.ok(results.every((r) => r.status === 200 && r.body.startsWith("stream ")));
		assert.equal(server.sessions(), 1, "one socket for the whole burst");
		const s = client.stats().origins[server.origin];
		assert.equal(s.protocol, "h2");
		assert.equal(s.created, 1);
		assert.equal(s.streams.total, 20);
		assert.ok(s.streams.peak > 1, `streams ran concurrently (peak ${s.streams.peak})`);
		assert.equal(s.streams.running, 0);
		assert.equal(s.running, 0, "an HTTP/2 connection whose streams ended is back in the pool as idle");
		assert.equal(s.free, 1);
	});

	it("opens another connection only when maxConcurrentStreams are running", async (t) => {
		const server = await startHttp2((stream) => reply(stream, 50));
		t.after(() => server.close());
		await using client = createHttpClient({ name: "h2-streams", tls: tlsOptions(), allowH2: true, maxConcurrentStreams: 4 });
		await Promise.all(Array.from({ length: 8 }, () => get(client, server.origin)));
		assert.equal(server.sessions(), 2);
		assert.equal(client.stats().origins[server.origin].streams.peak, 8);
	});

	it("a GOAWAY re-sends the streams the server never started, on a new connection", async (t) => {
		let first: http2.ServerHttp2Session | undefined;
		let onFirst = 0;
		const server = await startHttp2((stream, _headers, session) => {
			first ??= session;
			if (session !== first) return reply(stream);
			onFirst++;
			// The first connection answers its first stream, then goes away without starting the others.
			if (onFirst === 1) {
				stream.respond({ ":status": 200 });
				stream.end("first");
				setTimeout(() => session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id), 100);
			}
		});
		t.after(() => server.close());
		await using client = createHttpClient({ name: "h2-goaway", tls: tlsOptions(), allowH2: true });
		const results = await Promise.all(Array.from({ length: 5 }, () => get(client, server.origin)));
		assert.deepEqual(
			results.map((r) => r.status),
			[200, 200, 200, 200, 200],
		);
		assert.equal(results[0].body, "first");
		assert.equal(server.sessions(), 2);
		const s = client.stats().origins[server.origin];
		assert.equal(s.errors, 0);
		assert.ok(s.resends + s.staleRetries >= 4, `re-sent ${s.resends} + ${s.staleRetries}`);
		assert.equal(s.socketClosedBy.goaway, 1);
	});
});
