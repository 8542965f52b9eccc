/** Logging: quiet by default, JSON lines to stderr with LIFEGUARD_LOG_LEVEL, every event the issue lists, never a secret. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { loadConfig, type ResolvedConfig } from "../../src/config/index.ts";
import { createPool } from "../../src/core/pool.ts";
import { attachLogger, createJsonLogger, type Logger, logConfigSummary, loggerFromEnv } from "../../src/observe/logging/index.ts";

const run = promisify(execFile);
const child = new URL("./fixtures/log-child.ts", import.meta.url).pathname;
const SECRET = "Zq9-very-secret-value";

async function runChild(env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
	const { LIFEGUARD_LOG_LEVEL: _ignored, ...inherited } = process.env;
	return run(process.execPath, [child, SECRET], { env: { ...inherited, ...env }, timeout: 20_000 });
}

/** A logger that keeps what it is given. */
function capture(): Logger & { lines: { level: string; fields: Record<string, unknown>; message?: string }[] } {
	const lines: { level: string; fields: Record<string, unknown>; message?: string }[] = [];
	const at = (level: string) => (fields: object, message?: string) => lines.push({ level, fields: fields as Record<string, unknown>, message });
	return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

describe("quiet by default", () => {
	it("logs nothing without a logger or LIFEGUARD_LOG_LEVEL", async () => {
		const { stdout, stderr } = await runChild({});
		assert.equal(stdout.trim(), "done false");
		// The core's own warning for a leak nobody listens to is all there is: no lifeguard log line.
		assert.ok(!stderr.includes('"name":"lifeguard"'), stderr);
		assert.deepEqual(stderr.match(/\[LIFEGUARD_[A-Z_]+\]/g), ["[LIFEGUARD_LEAK]"]);
		assert.equal(loggerFromEnv({}), undefined);
		assert.equal(loggerFromEnv({ LIFEGUARD_LOG_LEVEL: "silent" }), undefined);
	});
});

describe("LIFEGUARD_LOG_LEVEL", () => {
	it("turns on JSON lines on stderr for every event the pools go through, with no secret", async () => {
		const { stdout, stderr } = await runChild({ LIFEGUARD_LOG_LEVEL: "debug" });
		assert.equal(stdout.trim(), "done true");
		assert.ok(!stderr.includes(SECRET), "a secret reached the log");
		const lines = stderr
			.trim()
			.split("\n")
			.map((line) => JSON.parse(line) as Record<string, unknown>);
		assert.ok(lines.every((l) => typeof l.time === "string" && l.name === "lifeguard" && typeof l.level === "string"));
		const find = (msg: string, extra: (l: Record<string, unknown>) => boolean = () => true) => lines.find((l) => l.msg === msg && extra(l));
		assert.ok(find("connection opened", (l) => l.pool === "orders" && l.connectionId === 1 && typeof l.durationMs === "number"));
		const createFailed = find("connection create failed", (l) => l.pool === "down");
		assert.equal(createFailed?.level, "warn");
		assert.match(String(createFailed?.error), /ECONNREFUSED postgres:\/\/\*\*\*@db.internal/);
		assert.equal(typeof createFailed?.nextRetryWithinMs, "number");
		assert.ok(
			find("connection create failed", (l) => l.consecutiveFailures === 2),
			"consecutive failures counted",
		);
		const leak = find("connection leak: held past leakDetectionMs");
		assert.match(String(leak?.stack), /lease acquired here[\s\S]*log-child\.ts/);
		assert.ok(find("acquire failed", (l) => l.pool === "down" && l.reason === "createError" && l.level === "warn"));
		assert.ok(find("circuit breaker opened", (l) => l.breaker === "https://api.example" && l.from === "closed" && l.to === "open" && l.level === "warn"));
		assert.ok(find("circuit breaker closed", (l) => l.from === "open" && l.to === "closed"));
		assert.ok(find("pool stats", (l) => l.pool === "orders" && l.active === 1 && l.max === 10));
		assert.ok(find("connection closed", (l) => l.pool === "orders" && l.reason === "error" && l.error === "ECONNRESET" && l.level === "warn"));
		assert.ok(find("connection closed", (l) => l.pool === "orders" && l.reason === "poolClosed" && l.level === "debug"));
		assert.ok(find("pool closed", (l) => l.pool === "orders" && l.level === "info"));
	});

	it("at warn, writes only warnings and errors", async () => {
		const { stderr } = await runChild({ LIFEGUARD_LOG_LEVEL: "warn" });
		const levels = new Set(
			stderr
				.trim()
				.split("\n")
				.map((line) => (JSON.parse(line) as { level: string }).level),
		);
		assert.deepEqual([...levels], ["warn"]);
	});
});

describe("a logger of one's own", () => {
	it("attaches to one pool, pino-style (fields first), and detaches", async () => {
		const logger = capture();
		const pool = createPool({ name: "solo", create: () => ({}) });
		const handle = attachLogger(pool, { logger });
		(await pool.acquire()).release();
		assert.deepEqual(logger.lines[0], {
			level: "debug",
			fields: { pool: "solo", client: "solo", kind: "pool", connectionId: 1, durationMs: logger.lines[0].fields.durationMs },
			message: "connection opened",
		});
		handle.detach();
		assert.equal(pool.listenerCount("connectionReady"), 0);
		await pool.close();
	});

	it("the JSON logger masks secret-named fields and redacts messages", () => {
		const written: string[] = [];
		const logger = createJsonLogger({ level: "debug", stream: { write: (line: string) => written.push(line) } });
		logger.info({ password: SECRET, url: `redis://:${SECRET}@cache:6379`, nested: { apiKey: SECRET } }, `token=${SECRET}`);
		assert.ok(!written.join("").includes(SECRET));
		const line = JSON.parse(written[0]);
		assert.equal(line.password, "***");
		assert.equal(line.url, "redis://***@cache:6379");
		assert.equal(line.msg, "token=***");
	});

	it("logs a config source summary at start: files, section, variable names, pools by kind, never values", () => {
		const logger = capture();
		const config: ResolvedConfig = loadConfig({
			// biome-ignore lint/suspicious/noTemplateCurlyInString: a YAML placeholder, not a template
			yaml: "pools:\n  cache:\n    kind: redis\n    password: ${REDIS_PASSWORD}\nproduction:\n  pools:\n    cache:\n      max: 4\n",
			env: { REDIS_PASSWORD: SECRET, CONNECTION_POOL_REDIS_MAX: "9", NODE_ENV: "production" },
		});
		logConfigSummary(logger, config);
		assert.deepEqual(logger.lines, [
			{
				level: "info",
				message: "configuration loaded",
				fields: { files: [], environment: "production", environmentSection: "production", variables: ["CONNECTION_POOL_REDIS_MAX"], pools: { cache: "redis" } },
			},
		]);
	});
});
