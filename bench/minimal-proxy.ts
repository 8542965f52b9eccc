/**
 * The floor for a gateway written in Node, for bench/gateway.bench.ts: node:http in front of an
 * undici Pool, no framework, no key check, no routing, no policy. It parses the body (to read
 * `stream`) and sends it on as it came, like lifeguard does when nothing needs rewriting; bytes
 * go back as they arrive. Prints `proxy <origin>`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";

const upstream = process.argv[2] as string;
const authorization = process.argv[3] as string;
const pool = new Pool(upstream, { connections: 256 });

const server = http.createServer((req, res) => {
	const chunks: Buffer[] = [];
	req.on("data", (c: Buffer) => chunks.push(c));
	req.on("end", async () => {
		try {
			const raw = Buffer.concat(chunks);
			const stream = (JSON.parse(raw.toString("utf8")) as { stream?: unknown }).stream === true;
			const r = await pool.request({
				path: req.url ?? "/",
				method: "POST",
				headers: { authorization, "content-type": "application/json", accept: stream ? "text/event-stream" : "application/json" },
				body: raw,
			});
			const headers = { "content-type": String(r.headers["content-type"] ?? "application/json") };
			if (stream) {
				res.writeHead(r.statusCode, headers);
				for await (const c of r.body) if (!res.write(c)) await new Promise((resolve) => res.once("drain", resolve));
				res.end();
				return;
			}
			const out: Buffer[] = [];
			for await (const c of r.body) out.push(c as Buffer);
			const body = Buffer.concat(out);
			res.writeHead(r.statusCode, { ...headers, "content-length": String(body.length) });
			res.end(body);
		} catch {
			res.destroy();
		}
	});
});
server.listen(0, "127.0.0.1", () => console.log(`proxy http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on("SIGTERM", () => server.close(() => void pool.close().then(() => process.exit(0))));
