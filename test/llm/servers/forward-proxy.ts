/**
 * The smallest gateway on `forward()`: node:http in front of an LlmClient, for tests that point
 * the official SDKs at lifeguard. It shows the contract a real gateway keeps: the body is written
 * as it arrives and only as fast as the client reads (`drain`), and a client that goes away
 * aborts the upstream through the signal.
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { apiForPath, type LlmClient } from "../../../src/adapters/llm/index.ts";

export interface ForwardProxy {
	readonly origin: string;
	close(): Promise<void>;
}

export async function startForwardProxy(llm: LlmClient): Promise<ForwardProxy> {
	const server = http.createServer(async (req, res) => {
		const controller = new AbortController();
		res.on("close", () => {
			if (!res.writableFinished) controller.abort();
		});
		const chunks: Buffer[] = [];
		for await (const c of req) chunks.push(c as Buffer);
		const path = (req.url ?? "/").split("?")[0];
		if (req.method === "GET" && path === "/v1/models") {
			const data = llm.models().map((m) => ({ id: m.id, object: "model", created: 0, owned_by: "lifeguard" }));
			res.writeHead(200, { "content-type": "application/json" });
			res.end(JSON.stringify({ object: "list", data }));
			return;
		}
		const api = apiForPath(path);
		if (api === undefined) {
			res.writeHead(404, { "content-type": "application/json" });
			res.end(JSON.stringify({ error: { message: `no route ${path}`, type: "invalid_request_error", param: null, code: null } }));
			return;
		}
		const result = await llm.forward({ api, body: JSON.parse(Buffer.concat(chunks).toString("utf8")), signal: controller.signal });
		res.writeHead(result.status, result.headers);
		try {
			for await (const chunk of result.body) {
				if (!res.write(chunk)) await Promise.race([once(res, "drain"), once(res, "close")]);
				if (res.destroyed) break;
			}
		} finally {
			res.end();
		}
	});
	server.listen(0, "127.0.0.1");
	await once(server, "listening");
	const { port } = server.address() as AddressInfo;
	return {
		origin: `http://127.0.0.1:${port}`,
		async close() {
			server.closeAllConnections();
			server.close();
			await once(server, "close");
		},
	};
}
