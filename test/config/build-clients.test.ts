/**
 * createPools() with the built-in builders of the HTTP, LLM, WebSocket and ComfyUI adapters:
 * one YAML file with a pool of each, real clients against local servers speaking the real
 * protocols, every client in the manager's health report doing one real operation, and the
 * environment overriding the file as docs/config.md's precedence says.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocketServer } from "ws";
import type { ComfyUIPool } from "../../src/adapters/comfyui/index.ts";
import type { HttpClient } from "../../src/adapters/http/index.ts";
import type { LlmClient } from "../../src/adapters/llm/index.ts";
import type { WebSocketManager } from "../../src/adapters/websocket/index.ts";
import { createPools, explain, formatExplanation, loadConfig } from "../../src/config/index.ts";
import { ComfyServer } from "../comfyui/server.ts";
import { txt2img } from "../comfyui/workflows.ts";
import { type LlmUpstream, startLlmUpstream } from "../llm/servers/llm-upstream.ts";

const API_KEY = "sk-wiring-0123456789abcdef";
const WS_TOKEN = "ws-wiring-token-9876543210";
const COMFY_TOKEN = "comfy-wiring-token-24680";

let http: Server;
let httpOrigin: string;
let wss: WebSocketServer;
let wsUrl: string;
let comfy: ComfyServer;
let llm: LlmUpstream;
const wsAuthorization: (string | undefined)[] = [];

before(async () => {
	http = createServer((req, res) => {
		res.setHeader("content-type", "application/json");
		res.end(JSON.stringify({ path: req.url }));
	});
	http.listen(0, "127.0.0.1");
	await once(http, "listening");
	httpOrigin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
	wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
	await once(wss, "listening");
	wsUrl = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/feed`;
	wss.on("connection", (socket, req) => {
		wsAuthorization.push(req.headers.authorization);
		socket.on("message", (data) => socket.send(`echo:${String(data)}`));
	});
	// The server refuses every call without the configured token.
	comfy = await ComfyServer.start({ authorization: `Bearer ${COMFY_TOKEN}` });
	llm = await startLlmUpstream({ apiKey: API_KEY, models: ["wiring-model"] });
});

after(async () => {
	http.closeAllConnections();
	await new Promise<void>((resolve) => http.close(() => resolve()));
	for (const client of wss.clients) client.terminate();
	await new Promise<void>((resolve) => wss.close(() => resolve()));
	await comfy.close();
	await llm.close();
});

/** One pool of each kind; secrets come from ${VAR}, as docs/config.md asks. */
const yaml = () => `
pools:
  api:
    kind: http
    maxConnections: 8
    maxConnectionsPerOrigin: 4
    keepAliveTimeoutMs: 2000
    prewarm: [${httpOrigin}]
  chat:
    kind: llm
    providers:
      local:
        preset: openai-compatible
        baseUrl: ${llm.origin}/v1
        apiKey: \${LLM_KEY}
        maxConcurrent: 4
    models:
      wiring-model: [{ provider: local }]
  feed:
    kind: websocket
    connections:
      prices: ${wsUrl}
    headers:
      Authorization: Bearer \${WS_TOKEN}
    maxConnections: 5
    pingIntervalMs: 5000
  gpu:
    kind: comfyui
    instances:
      - url: ${comfy.url}
        auth:
          token: \${COMFY_TOKEN}
    stallTimeoutMs: 10000
`;

const secrets = { LLM_KEY: API_KEY, WS_TOKEN, COMFY_TOKEN };

describe("createPools() builds the HTTP, LLM, WebSocket and ComfyUI clients of a YAML config", () => {
	it("puts a real client of each kind in the manager; each is in health() and does one real operation", async () => {
		const config = loadConfig({ yaml: yaml(), env: secrets });
		await using manager = await createPools(config, { start: true });
		assert.deepEqual(manager.list(), ["api", "chat", "feed", "gpu"]);
		const health = manager.health();
		assert.deepEqual(Object.fromEntries(Object.entries(health.clients).map(([name, c]) => [name, c.kind])), {
			api: "http",
			chat: "llm",
			feed: "websocket",
			gpu: "comfyui",
		});
		for (const [name, client] of Object.entries(health.clients)) assert.ok(Object.keys(client.pools).length > 0, `${name} reports its pools`);
		assert.ok(Object.keys(health.clients.api.pools).includes(httpOrigin), "the prewarmed origin is one of the HTTP client's pools");

		const api = manager.client<HttpClient>("api");
		const response = await api.request({ origin: httpOrigin, path: "/ping", method: "GET" });
		assert.equal(response.statusCode, 200);
		assert.deepEqual(await response.body.json(), { path: "/ping" });

		const chat = await manager.client<LlmClient>("chat").chat({ model: "wiring-model", messages: [{ role: "user", content: "hello" }] });
		assert.equal(chat.object, "chat.completion");
		assert.equal(llm.hits("wiring-model"), 1, "the upstream accepted the key substituted from LLM_KEY");

		const feed = manager.client<WebSocketManager>("feed");
		await feed.send("prices", "hi");
		assert.equal(await feed.receive("prices", { timeoutMs: 2_000 }), "echo:hi");
		assert.equal(wsAuthorization.at(-1), `Bearer ${WS_TOKEN}`, "the handshake carried the configured header");

		const result = await manager.client<ComfyUIPool>("gpu").run(txt2img());
		assert.equal(result.images.length, 1, "the instance accepted the token from auth");
	});

	it("CONNECTION_POOL_* reaches the adapters' options over built-in defaults, the file's pool keys win over it, LIFEGUARD_POOLS__* wins over both", async () => {
		const env = {
			...secrets,
			CONNECTION_POOL_HTTP_TOTAL: "30",
			CONNECTION_POOL_HTTP_PER_HOST: "6",
			CONNECTION_POOL_HTTP_KEEPALIVE: "3",
			CONNECTION_POOL_HTTP_TIMEOUT: "45",
			CONNECTION_POOL_WS_MAX: "9",
			CONNECTION_POOL_WS_HEARTBEAT: "7",
			CONNECTION_POOL_WS_RECONNECT: "1.5",
			LIFEGUARD_POOLS__API__MAX_CONNECTIONS_PER_ORIGIN: "2",
		};
		const config = loadConfig({ yaml: yaml().replace(/\n {4}maxConnections: 5/, ""), env });
		const api = config.pools.api as { maxConnections: number; maxConnectionsPerOrigin: number; keepAliveTimeoutMs: number; timeoutMs: number };
		assert.equal(api.maxConnections, 8, "the file's pool key over CONNECTION_POOL_HTTP_TOTAL");
		assert.equal(config.sources["pools.api.maxConnections"], "inline:5:5");
		assert.equal(api.maxConnectionsPerOrigin, 2, "LIFEGUARD_POOLS__API__MAX_CONNECTIONS_PER_ORIGIN over the file");
		assert.equal(api.keepAliveTimeoutMs, 2_000, "the file over CONNECTION_POOL_HTTP_KEEPALIVE");
		assert.equal(api.timeoutMs, 45_000, "CONNECTION_POOL_HTTP_TIMEOUT in seconds");
		assert.equal(config.sources["pools.api.timeoutMs"], "env CONNECTION_POOL_HTTP_TIMEOUT");
		const feedConfig = config.pools.feed as { maxConnections: number; pingIntervalMs: number; reconnectInitialMs: number };
		assert.equal(feedConfig.maxConnections, 9, "CONNECTION_POOL_WS_MAX over the built-in 100");
		assert.equal(feedConfig.pingIntervalMs, 5_000, "the file over CONNECTION_POOL_WS_HEARTBEAT");
		assert.equal(feedConfig.reconnectInitialMs, 1_500);

		await using manager = await createPools(config);
		const stats = manager.client<HttpClient>("api").stats();
		assert.deepEqual([stats.maxConnections, stats.maxConnectionsPerOrigin], [8, 2], "the client runs with the resolved values");
		assert.equal(manager.client<WebSocketManager>("feed").maxConnections, 9, "CONNECTION_POOL_WS_MAX reached the manager");

		// Without the file's keys the variables are what the clients run with.
		const bare = loadConfig({
			yaml: `pools:\n  api:\n    kind: http\n  feed:\n    kind: websocket\n    url: ${wsUrl}\n`,
			env: { ...env, CONNECTION_POOL_WS_HEARTBEAT: "0.05", LIFEGUARD_POOLS__API__MAX_CONNECTIONS_PER_ORIGIN: undefined },
		});
		const pings = { count: 0 };
		const countPings = (socket: import("ws").WebSocket) => socket.on("ping", () => pings.count++);
		wss.on("connection", countPings);
		try {
			await using plain = await createPools(bare, { start: true });
			const stats = plain.client<HttpClient>("api").stats();
			assert.deepEqual([stats.maxConnections, stats.maxConnectionsPerOrigin], [30, 6], "CONNECTION_POOL_HTTP_TOTAL and _PER_HOST");
			const until = Date.now() + 2_000;
			while (pings.count < 3 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
			assert.ok(pings.count >= 3, `CONNECTION_POOL_WS_HEARTBEAT=0.05 pings every 50 ms (saw ${pings.count})`);
		} finally {
			wss.off("connection", countPings);
		}
	});

	it("explain() and the errors of these kinds never show an API key, a token or an auth header", async () => {
		const config = loadConfig({ yaml: yaml(), env: secrets });
		const text = formatExplanation(explain(config));
		for (const secret of Object.values(secrets)) assert.ok(!text.includes(secret), "explain() masks it");
		assert.match(text, /pools\.chat\.providers\.local\.apiKey\s+\*\*\*/);
		assert.match(text, /pools\.feed\.headers\s+\*\*\*/);
		assert.match(text, /pools\.gpu\.instances\.0\.auth\s+\*\*\*/);
		assert.match(text, /pools\.chat\.providers\.local\.maxConcurrent\s+4\s+\(inline:/, "nested keys keep their source");

		const bad = yaml().replace("preset: openai-compatible", "preset: openai-compatble").replace("stallTimeoutMs: 10000", `stallTimeoutMs: ${COMFY_TOKEN}`);
		assert.throws(
			() => loadConfig({ yaml: bad, env: secrets }),
			(error: Error & { problems: { path: string }[] }) => {
				const paths = error.problems.map((p) => p.path);
				assert.ok(paths.includes("pools.chat.providers.local.preset"), paths.join(", "));
				assert.ok(paths.includes("pools.gpu.stallTimeoutMs"), paths.join(", "));
				for (const secret of Object.values(secrets)) assert.ok(!`${error.message}${JSON.stringify(error.problems)}`.includes(secret));
				return true;
			},
		);
	});
});
