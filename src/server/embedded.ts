/**
 * What `lifeguard serve` fronts without a config file: an SQLite database in the data directory
 * and the demo upstream, with a trickle of demo traffic so that the dashboard has something live.
 */
import { join } from "node:path";
import { createLlmClient } from "../adapters/llm/client.ts";
import { createSqliteClient } from "../adapters/sqlite/index.ts";
import { type AdminToken, loadStoredSecret } from "./admin-token.ts";
import { startDemoLlm } from "./demo-llm.ts";
import { startDemoUpstream } from "./demo-upstream.ts";
import { ServedClients } from "./served-clients.ts";

export const EMBEDDED_SQL_POOL = "embedded";
export const DEMO_UPSTREAM_POOL = "demo-upstream";
export const DEMO_LLM_CLIENT = "demo-llm";
export const DEMO_GATEWAY_KEY_FILE = "gateway-demo-key";

export interface Embedded {
	readonly clients: ServedClients;
	/** The gateway's one client key on the embedded default, stored in the data directory. */
	readonly gatewayKey: AdminToken;
	/**
	 * Creates the demo table and starts the demo traffic: a query and an echo every `everyMs`, and
	 * a chat completion through the service's own gateway at `address` every 4 × `everyMs`.
	 */
	startTraffic(address: string, everyMs?: number): Promise<void>;
	/** Stops the demo traffic and closes the demo upstream's server (the clients close with the rest). */
	stop(): Promise<void>;
}

export async function embeddedDefault(dataDir: string): Promise<Embedded> {
	const clients = new ServedClients();
	const db = createSqliteClient({ filename: join(dataDir, "embedded.db"), pool: { name: EMBEDDED_SQL_POOL, min: 1, max: 4 } });
	clients.addSql(db);
	const upstream = await startDemoUpstream(DEMO_UPSTREAM_POOL);
	clients.add(upstream.client);
	const demoLlm = await startDemoLlm();
	clients.addLlm(
		createLlmClient({
			name: DEMO_LLM_CLIENT,
			providers: {
				demo: { preset: "openai-compatible", baseUrl: demoLlm.baseUrl, apiKey: "demo-upstream-takes-any-key", maxConcurrent: 8 },
				"demo-anthropic": { preset: "anthropic", baseUrl: demoLlm.baseUrl, apiKey: "demo-upstream-takes-any-key", maxConcurrent: 8 },
			},
			models: { "demo-chat": [{ provider: "demo" }], "demo-claude": [{ provider: "demo-anthropic" }] },
		}),
	);
	const gatewayKey = loadStoredSecret(dataDir, DEMO_GATEWAY_KEY_FILE);
	let timer: NodeJS.Timeout | undefined;
	let tick = 0;
	return {
		clients,
		gatewayKey,
		async startTraffic(address, everyMs = 500) {
			if (timer !== undefined) return;
			// Not before the service watches the pools: their first connections' events belong in the dashboard.
			await db.query("CREATE TABLE IF NOT EXISTS demo_visits (id INTEGER PRIMARY KEY, at TEXT NOT NULL)", [], { fetch: "none" });
			timer = setInterval(() => {
				tick++;
				// Failures (during shutdown, say) are what the dashboard is there to show; they must not crash the service.
				void db.query("INSERT INTO demo_visits (at) VALUES (?)", [new Date().toISOString()], { fetch: "none" }).catch(() => {});
				if (tick % 20 === 0)
					void db.query("DELETE FROM demo_visits WHERE id < (SELECT max(id) - 1000 FROM demo_visits)", [], { fetch: "none" }).catch(() => {});
				void upstream.ping(`demo ${tick}`).catch(() => {});
				if (tick % 4 === 0) void demoChat(address, gatewayKey.value, tick).catch(() => {});
			}, everyMs);
			timer.unref();
		},
		async stop() {
			clearInterval(timer);
			timer = undefined;
			await demoLlm.close();
		},
	};
}

/** One call through the gateway, as a user's SDK would make it: OpenAI and Anthropic formats in turn, streamed every other time. */
async function demoChat(address: string, key: string, tick: number): Promise<void> {
	const anthropic = tick % 8 === 0;
	const stream = tick % 16 < 8;
	const response = await fetch(`${address}/v1/${anthropic ? "messages" : "chat/completions"}`, {
		method: "POST",
		headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
		body: JSON.stringify({
			model: anthropic ? "demo-claude" : "demo-chat",
			messages: [{ role: "user", content: "How is the pool doing?" }],
			stream,
			...(anthropic ? { max_tokens: 64 } : stream ? { stream_options: { include_usage: true } } : {}),
		}),
		signal: AbortSignal.timeout(5_000),
	});
	await response.arrayBuffer();
}
