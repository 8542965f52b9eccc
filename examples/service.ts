/**
 * The service embedded in a program: `lifeguard serve`'s embedded default (an SQLite database
 * and demo upstreams) on a free port, then SQL over HTTP as a caller that cannot hold a
 * connection would use it: a session, a transaction, a one-shot query; and one chat completion
 * through the LLM gateway. The same calls work with curl against `npm start`.
 * Run: npx node examples/service.ts
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startService } from "../src/server/index.ts";

const dataDir = mkdtempSync(join(tmpdir(), "lifeguard-example-service-"));
const { service, address } = await startService({ port: 0, dataDir, demoTraffic: false, env: {} });
const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
const gatewayKey = readFileSync(join(dataDir, "gateway-demo-key"), "utf8").trim();

async function call(method: string, path: string, body?: unknown, key = token): Promise<unknown> {
	const response = await fetch(`${address}${path}`, {
		method,
		headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
		...(body === undefined ? {} : { body: JSON.stringify(body) }),
	});
	const text = await response.text();
	return text === "" ? response.status : JSON.parse(text);
}

try {
	console.log(`service at ${address}`);
	const pool = "/api/v1/pools/embedded";
	await call("POST", `${pool}/query`, { sql: "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)", fetch: "none" });

	const { sessionId } = (await call("POST", `${pool}/sessions`, {})) as { sessionId: string };
	console.log("session:", `${sessionId.slice(0, 8)}…`);
	await call("POST", `${pool}/sessions/${sessionId}/transaction`, { action: "begin" });
	console.log(
		"insert:",
		await call("POST", `${pool}/sessions/${sessionId}/execute`, { sql: "INSERT INTO notes (body) VALUES (?)", params: ["kept"], fetch: "none" }),
	);
	await call("POST", `${pool}/sessions/${sessionId}/transaction`, { action: "commit" });
	await call("POST", `${pool}/sessions/${sessionId}/transaction`, { action: "begin" });
	await call("POST", `${pool}/sessions/${sessionId}/execute`, { sql: "INSERT INTO notes (body) VALUES (?)", params: ["undone"], fetch: "none" });
	await call("POST", `${pool}/sessions/${sessionId}/transaction`, { action: "rollback" });
	console.log("release:", await call("DELETE", `${pool}/sessions/${sessionId}`));
	console.log("after:", await call("POST", `${pool}/query`, { sql: "SELECT body FROM notes ORDER BY id", fetch: "all" }));
	console.log("released id:", await call("POST", `${pool}/sessions/${sessionId}/execute`, { sql: "SELECT 1" }));

	const chat = (await call("POST", "/v1/chat/completions", { model: "demo-chat", messages: [{ role: "user", content: "hello" }] }, gatewayKey)) as {
		choices: { message: { content: string } }[];
		usage: unknown;
	};
	console.log("gateway:", chat.choices[0].message.content, chat.usage);
} finally {
	await service.shutdown();
	rmSync(dataDir, { recursive: true, force: true });
}
