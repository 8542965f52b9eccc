/** lifeguard/config: sources and precedence, problems with paths and sources, explain(), createPools, sizing. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
	assessPoolSize,
	createPools,
	explain,
	formatExplanation,
	loadConfig,
	type PoolConfig,
	type PoolConfigOf,
	recommendPoolSize,
	registerPoolBuilder,
} from "../../src/config/index.ts";
import { ErrorCode } from "../../src/core/errors.ts";
import { createKeyedPool } from "../../src/core/keyed-pool.ts";
import { createPool } from "../../src/core/pool.ts";
import { keyedClient } from "../../src/manager/views.ts";

const dir = mkdtempSync(join(tmpdir(), "lifeguard-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(yaml: string): string {
	const path = join(dir, `config-${++n}.yaml`);
	writeFileSync(path, yaml);
	return path;
}

const SECRET = "pa55-w0rd-xyz";

/** A pool of a kind built on the core's Pool (its min, max and timeouts). */
const core = (pool: PoolConfig | undefined) => pool as PoolConfigOf<"postgres">;

const BASE = `
defaults:
  postgres:
    max: 15
    idleTimeoutMs: 60000
pools:
  orders:
    kind: postgres
    url: postgres://app:\${ORDERS_PASSWORD}@db:5432/orders
    min: 2
  cache:
    kind: redis
    url: \${REDIS_URL:-redis://127.0.0.1:6379}
  api:
    kind: http
    prewarm: [https://api.example.com]
production:
  pools:
    orders:
      max: 40
`;

/** The one ConfigError `fn` throws. */
function problemsOf(fn: () => unknown): { path: string; message: string; source?: string }[] & { text: string } {
	try {
		fn();
	} catch (error) {
		const e = error as Error & { code: string; problems: { path: string; message: string; source?: string }[] };
		assert.equal(e.code, ErrorCode.CONFIG_INVALID);
		return Object.assign(e.problems, { text: e.message });
	}
	assert.fail("expected a ConfigError");
}

describe("sources and precedence", () => {
	it("built-in defaults < YAML defaults per kind < CONNECTION_POOL_* < YAML per pool < LIFEGUARD_POOLS__<NAME>__<KEY>", () => {
		const path = file(BASE);
		const env = { ORDERS_PASSWORD: SECRET };
		let config = loadConfig({ file: path, env });
		const orders = config.pools.orders;
		assert.equal(orders.kind, "postgres");
		assert.equal(orders.max, 15, "YAML defaults over the built-in 10");
		assert.equal(orders.acquireTimeoutMs, 30_000, "built-in");
		assert.equal(config.sources["pools.orders.acquireTimeoutMs"], "default");
		assert.equal(config.sources["pools.orders.max"], `${path}:4:5`);
		assert.equal(orders.min, 2);
		assert.equal(config.sources["pools.orders.min"], `${path}:10:5`);

		config = loadConfig({ file: path, env: { ...env, CONNECTION_POOL_DB_MAX: "25", CONNECTION_POOL_DB_MIN: "3", CONNECTION_POOL_DB_IDLE_TIMEOUT: "30" } });
		assert.equal(core(config.pools.orders).max, 25, "CONNECTION_POOL_DB_MAX over YAML defaults");
		assert.equal(config.sources["pools.orders.max"], "env CONNECTION_POOL_DB_MAX");
		assert.equal(core(config.pools.orders).min, 2, "YAML per pool over CONNECTION_POOL_DB_MIN");
		assert.equal(core(config.pools.orders).idleTimeoutMs, 30_000, "durations in seconds");

		config = loadConfig({
			file: path,
			env: { ...env, CONNECTION_POOL_DB_MAX: "25", LIFEGUARD_POOLS__ORDERS__MAX: "50", LIFEGUARD_POOLS__ORDERS__ACQUIRE_TIMEOUT_MS: "500" },
		});
		assert.equal(core(config.pools.orders).max, 50);
		assert.equal(config.sources["pools.orders.max"], "env LIFEGUARD_POOLS__ORDERS__MAX");
		assert.equal(core(config.pools.orders).acquireTimeoutMs, 500);
	});

	it("merges the environment section chosen by option or NODE_ENV over the base", () => {
		const path = file(BASE);
		const env = { ORDERS_PASSWORD: SECRET };
		assert.equal(core(loadConfig({ file: path, env, environment: "production" }).pools.orders).max, 40);
		const viaNodeEnv = loadConfig({ file: path, env: { ...env, NODE_ENV: "production" } });
		assert.equal(core(viaNodeEnv.pools.orders).max, 40);
		assert.equal(viaNodeEnv.sources["pools.orders.max"], `${path}:20:7`);
		assert.equal(viaNodeEnv.summary.environmentSection, "production");
		assert.equal(core(loadConfig({ file: path, env: { ...env, NODE_ENV: "development" } }).pools.orders).max, 15);
		// Per-pool env variables still beat the section.
		assert.equal(core(loadConfig({ file: path, env: { ...env, LIFEGUARD_POOLS__ORDERS__MAX: "7" }, environment: "production" }).pools.orders).max, 7);
	});

	// biome-ignore lint/suspicious/noTemplateCurlyInString: a YAML placeholder, not a template
	it("substitutes ${VAR} and ${VAR:-default} in YAML values", () => {
		const config = loadConfig({ file: file(BASE), env: { ORDERS_PASSWORD: SECRET } });
		assert.equal((config.pools.orders as { url: string }).url, `postgres://app:${SECRET}@db:5432/orders`);
		assert.equal((config.pools.cache as { url: string }).url, "redis://127.0.0.1:6379");
		const set = loadConfig({ file: file(BASE), env: { ORDERS_PASSWORD: SECRET, REDIS_URL: "redis://cache:6380" } });
		assert.equal((set.pools.cache as { url: string }).url, "redis://cache:6380");
	});

	it("reads every CONNECTION_POOL_* variable the seeds use, booleans as true/false/1/0", () => {
		const config = loadConfig({
			config: {
				pools: {
					api: { kind: "http" },
					db: { kind: "mysql", host: "127.0.0.1" },
					cache: { kind: "redis" },
					feed: { kind: "websocket", url: "wss://feed.example" },
				},
			},
			env: {
				CONNECTION_POOL_HTTP_TOTAL: "200",
				CONNECTION_POOL_HTTP_PER_HOST: "20",
				CONNECTION_POOL_HTTP_KEEPALIVE: "4",
				CONNECTION_POOL_HTTP_TIMEOUT: "120",
				CONNECTION_POOL_DB_MIN: "1",
				CONNECTION_POOL_DB_MAX: "30",
				CONNECTION_POOL_DB_IDLE_TIMEOUT: "300",
				CONNECTION_POOL_DB_COMMAND_TIMEOUT: "2.5",
				CONNECTION_POOL_REDIS_MAX: "8",
				CONNECTION_POOL_REDIS_TIMEOUT: "1",
				CONNECTION_POOL_WS_MAX: "50",
				CONNECTION_POOL_WS_HEARTBEAT: "15",
				CONNECTION_POOL_WS_RECONNECT: "2",
				CONNECTION_POOL_MONITORING: "1",
				CONNECTION_POOL_HEALTH_CHECK: "30",
			},
		});
		const api = config.pools.api as PoolConfigOf<"http">;
		assert.deepEqual([api.maxConnections, api.maxConnectionsPerOrigin], [200, 20]);
		assert.deepEqual([core(config.pools.db).min, core(config.pools.db).max], [1, 30]);
		assert.equal(core(config.pools.cache).max, 8);
		assert.equal((config.pools.feed as { maxConnections: number }).maxConnections, 50);
		assert.equal((config.pools.api as { keepAliveTimeoutMs: number }).keepAliveTimeoutMs, 4_000);
		assert.equal((config.pools.api as { timeoutMs: number }).timeoutMs, 120_000);
		assert.equal((config.pools.db as { statementTimeoutMs: number }).statementTimeoutMs, 2_500);
		assert.equal(core(config.pools.db).idleTimeoutMs, 300_000);
		assert.equal((config.pools.cache as { commandTimeoutMs: number }).commandTimeoutMs, 1_000);
		assert.equal((config.pools.feed as PoolConfigOf<"websocket">).pingIntervalMs, 15_000);
		assert.equal((config.pools.feed as PoolConfigOf<"websocket">).reconnectInitialMs, 2_000);
		assert.deepEqual(config.monitoring, { enabled: true, healthCheckIntervalMs: 30_000 });
		assert.equal(loadConfig({ env: { CONNECTION_POOL_MONITORING: "false" } }).monitoring.enabled, false);
	});

	it("declares a pool from environment variables alone", () => {
		const config = loadConfig({ env: { LIFEGUARD_POOLS__SESSIONS__KIND: "redis", LIFEGUARD_POOLS__SESSIONS__URL: "redis://127.0.0.1:6379/2" } });
		assert.equal(config.pools.sessions.kind, "redis");
		assert.equal(config.sources["pools.sessions.url"], "env LIFEGUARD_POOLS__SESSIONS__URL");
	});
});

describe("problems", () => {
	it("a YAML syntax error is reported alone, not followed by every LIFEGUARD_POOLS__ variable as naming no pool", () => {
		// biome-ignore lint/suspicious/noTemplateCurlyInString: a YAML placeholder, not a template
		const problems = problemsOf(() => loadConfig({ yaml: "pools:\n  api: { kind: http, x: ${Y} }\n", env: { LIFEGUARD_POOLS__API__MAX_WAITERS: "3" } }));
		assert.ok(problems.length > 0);
		assert.deepEqual([...new Set(problems.map((p) => p.path))], ["(syntax)"]);
	});

	it("lists every problem at once, each with its path and file:line:column, with a did-you-mean for typos", () => {
		const path = file(`pools:
  orders:
    kind: postgres
    host: db
    maxx: 10
    min: 20
    max: 5
    acquireTimeoutMs: soon
  cache:
    kind: rediss
  feed:
    kind: websocket
monitorng:
  enabled: true
`);
		const problems = problemsOf(() => loadConfig({ file: path, env: {} }));
		const byPath = Object.fromEntries(problems.map((p) => [p.path, p]));
		assert.match(byPath["pools.orders.maxx"].message, /unknown option for a postgres pool \(did you mean "max"\?\)/);
		assert.equal(byPath["pools.orders.maxx"].source, `${path}:5:5`);
		assert.match(byPath["pools.orders.acquireTimeoutMs"].message, /expected number/);
		assert.equal(byPath["pools.orders.acquireTimeoutMs"].source, `${path}:8:5`);
		assert.match(byPath["pools.cache.kind"].message, /unknown pool kind \(did you mean "redis"\?\)/);
		assert.equal(byPath["pools.cache.kind"].source, `${path}:10:5`);
		assert.ok(byPath["pools.feed.url"], "a websocket pool needs a url");
		assert.match(byPath.monitorng.message, /did you mean "monitoring"/);
		assert.ok(problems.length >= 5);
		assert.match(problems.text, /pools\.orders\.maxx: unknown option .* \(from .*:5:5\)/);
	});

	it("min above max is reported at min, after the other checks pass", () => {
		const problems = problemsOf(() => loadConfig({ config: { pools: { orders: { kind: "postgres", host: "db", min: 20, max: 5 } } }, env: {} }));
		assert.deepEqual(
			problems.map((p) => [p.path, p.message, p.source]),
			[["pools.orders.min", "min is greater than max", "code"]],
		);
	});

	it("names the environment variable of a bad or unknown one, with a did-you-mean", () => {
		const problems = problemsOf(() =>
			loadConfig({
				config: { pools: { orders: { kind: "postgres", host: "db" } } },
				env: { CONNECTION_POOL_DB_MAXX: "5", CONNECTION_POOL_HTTP_TIMEOUT: "ten", CONNECTION_POOL_MONITORING: "yes", LIFEGUARD_POOLS__ORDRES__MAX: "3" },
			}),
		);
		const byPath = Object.fromEntries(problems.map((p) => [p.path, p]));
		assert.match(byPath.CONNECTION_POOL_DB_MAXX.message, /did you mean CONNECTION_POOL_DB_MAX\?/);
		assert.equal(byPath.CONNECTION_POOL_DB_MAXX.source, "env CONNECTION_POOL_DB_MAXX");
		assert.match(byPath.CONNECTION_POOL_HTTP_TIMEOUT.message, /duration in seconds/);
		assert.match(byPath.CONNECTION_POOL_MONITORING.message, /true, false, 1 or 0/);
		assert.match(byPath["pools.ordres"].message, /no pool named ordres.*did you mean "ORDERS"/);
		assert.equal(byPath["pools.ordres"].source, "env LIFEGUARD_POOLS__ORDRES__MAX");
	});

	// biome-ignore lint/suspicious/noTemplateCurlyInString: a YAML placeholder, not a template
	it("an unset ${VAR} without a default is a problem at its key; YAML syntax errors give their position", () => {
		// biome-ignore lint/suspicious/noTemplateCurlyInString: a YAML placeholder, not a template
		const unset = problemsOf(() => loadConfig({ yaml: "pools:\n  orders:\n    kind: postgres\n    url: ${NOPE_URL}\n", env: {} }));
		assert.ok(unset.some((p) => p.path === "pools.orders.url" && /NOPE_URL is not set/.test(p.message) && p.source === "inline:4:5"));
		const syntax = problemsOf(() => loadConfig({ yaml: `pools:\n  orders: [\n    password: ${SECRET}\n`, env: {} }));
		assert.ok(syntax.every((p) => p.path === "(syntax)" && /^inline:\d+:\d+$/.test(p.source ?? "")));
		assert.ok(!syntax.text.includes(SECRET));
		const missing = problemsOf(() => loadConfig({ file: join(dir, "missing.yaml"), env: {} }));
		assert.match(missing[0].message, /cannot read the config file \(ENOENT\)/);
	});

	it("a malformed ${ (unterminated, or no valid name) is a problem at its key, not a literal value; the value is never quoted", () => {
		const yaml = [
			"pools:",
			"  orders:",
			"    kind: postgres",
			`    url: "postgres://app:${SECRET}@db/\${DB_NAME"`,
			// biome-ignore lint/suspicious/noTemplateCurlyInString: YAML placeholders, not templates
			"    password: ${1X}",
			// biome-ignore lint/suspicious/noTemplateCurlyInString: YAML placeholders, not templates
			"    user: ${}",
			// biome-ignore lint/suspicious/noTemplateCurlyInString: YAML placeholders, not templates
			"    application_name: ${APP:default}",
			// biome-ignore lint/suspicious/noTemplateCurlyInString: YAML placeholders, not templates
			"    database: ${DB_NAME}",
			"",
		].join("\n");
		const problems = problemsOf(() => loadConfig({ yaml, env: { DB_NAME: "shop" } }));
		const byPath = Object.fromEntries(problems.filter((p) => /\$\{/.test(p.message)).map((p) => [p.path, p]));
		assert.match(byPath["pools.orders.url"]?.message ?? "", /unterminated \$\{ at character \d+ of the value \(no closing \}\)/);
		assert.equal(byPath["pools.orders.url"]?.source, "inline:4:5");
		for (const key of ["password", "user", "application_name"]) {
			assert.match(byPath[`pools.orders.${key}`]?.message ?? "", /malformed variable reference at character 1 of the value/, key);
		}
		assert.equal(byPath["pools.orders.database"], undefined, "a well-formed reference is still fine");
		assert.ok(!problems.text.includes(SECRET));
	});

	it("never prints a secret, even when the secret is what is wrong", () => {
		const problems = problemsOf(() =>
			loadConfig({
				config: { pools: { orders: { kind: "postgres", url: `not a url ${SECRET}`, password: 12345, passwrod: SECRET } } },
				env: { LIFEGUARD_POOLS__ORDERS__API_KEY: SECRET },
			}),
		);
		assert.ok(problems.length >= 3);
		assert.ok(!problems.text.includes(SECRET), problems.text);
		assert.ok(!problems.text.includes("12345"));
	});
});

describe("explain()", () => {
	it("gives every key's effective value and source, secrets masked, URLs without credentials", () => {
		const path = file(BASE);
		const config = loadConfig({ file: path, env: { ORDERS_PASSWORD: SECRET, CONNECTION_POOL_DB_MAX: "25", LIFEGUARD_POOLS__CACHE__PASSWORD: SECRET } });
		const settings = explain(config);
		const at = (p: string) => settings.find((s) => s.path === p);
		assert.deepEqual(at("pools.orders.max"), { path: "pools.orders.max", value: "25", source: "env CONNECTION_POOL_DB_MAX" });
		assert.deepEqual(at("pools.orders.url"), { path: "pools.orders.url", value: "postgres://***@db:5432/orders", source: `${path}:9:5` });
		assert.deepEqual(at("pools.cache.password"), { path: "pools.cache.password", value: "***", source: "env LIFEGUARD_POOLS__CACHE__PASSWORD" });
		assert.equal(at("pools.orders.acquireTimeoutMs")?.source, "default");
		const text = formatExplanation(settings);
		assert.ok(!text.includes(SECRET));
		assert.match(text, /pools\.orders\.max\s+25\s+\(env CONNECTION_POOL_DB_MAX\)/);
	});
});

describe("createPools()", () => {
	it("registerPoolBuilder() replaces a kind's builder; monitoring.healthCheckIntervalMs reaches the pools whose kind has a keepalive", async () => {
		registerPoolBuilder("http", (name, c) => {
			const keyed = createKeyedPool({ name, create: () => ({}), maxPerKey: c.maxConnectionsPerOrigin, maxTotal: c.maxConnections });
			return { ...keyedClient(keyed as never), kind: "http" };
		});
		const seen: Record<string, { healthCheckIntervalMs?: number }> = {};
		const fake = (kind: string, label: string, max: number) => (name: string, c: object) => {
			seen[name] = c;
			const pool = createPool({ name, create: () => ({}), max });
			return {
				name,
				kind,
				pools: () => [{ label, pool }],
				start: () => pool.start(),
				close: (o?: { timeoutMs?: number }) => pool.close(o),
				[Symbol.asyncDispose]: () => pool.close(),
			};
		};
		registerPoolBuilder("websocket", (name, c) => fake("websocket", c.url ?? "", c.maxConnections ?? 10)(name, c));
		registerPoolBuilder("comfyui", (name, c) => fake("comfyui", "gpu", 1)(name, c));
		const config = loadConfig({
			config: {
				pools: {
					api: { kind: "http", maxConnectionsPerOrigin: 3 },
					feed: { kind: "websocket", url: "wss://feed.example", maxConnections: 4 },
					gpu: { kind: "comfyui", instances: ["http://127.0.0.1:8188"] },
				},
			},
			env: {},
		});
		const manager = await createPools({ ...config, monitoring: { healthCheckIntervalMs: 15_000 } });
		assert.deepEqual(manager.list(), ["api", "feed", "gpu"]);
		assert.equal(seen.gpu?.healthCheckIntervalMs, 15_000, "a ComfyUI pool probes its instances this often");
		assert.equal(seen.feed?.healthCheckIntervalMs, undefined, "a WebSocket manager has its own heartbeat (pingIntervalMs), no such option");
		assert.equal(manager.health().clients.feed.kind, "websocket");
		assert.equal(manager.stats()["feed/wss://feed.example"].max, 4);
		await manager.close();
	});

	it("reports every builder that fails in one ConfigError, with the adapter's own problem and no secret", async () => {
		const config = loadConfig({
			config: {
				pools: {
					cache: { kind: "redis", url: "redis://127.0.0.1:6379" },
					chat: { kind: "llm", providers: { main: { preset: "azure", apiKey: SECRET } }, models: { gpt: [{ provider: "main" }] } },
				},
			},
			env: {},
		});
		await assert.rejects(createPools(config), (error: Error & { problems: { path: string; message: string }[] }) => {
			assert.deepEqual(
				error.problems.map((p) => p.path),
				["pools.chat"],
			);
			assert.match(error.problems[0].message, /could not build: providers\.main\.baseUrl: required for the azure preset/);
			assert.ok(!error.message.includes(SECRET));
			return true;
		});
	});
});

describe("pool sizing", () => {
	it("recommends arrival rate × hold time × headroom, rounded up and bounded (Little's law)", () => {
		assert.equal(recommendPoolSize({ arrivalRatePerSecond: 200, holdTimeMs: 25 }).size, 8);
		assert.equal(recommendPoolSize({ arrivalRatePerSecond: 200, holdTimeMs: 25, headroom: 1 }).concurrent, 5);
		assert.equal(recommendPoolSize({ arrivalRatePerSecond: 10_000, holdTimeMs: 100, max: 50 }).size, 50);
		assert.equal(recommendPoolSize({ arrivalRatePerSecond: 0, holdTimeMs: 100, min: 2 }).size, 2);
		assert.match(recommendPoolSize({ arrivalRatePerSecond: 10_000, holdTimeMs: 100, max: 50 }).explanation, /bounded to \[1, 50\] from 1500/);
		assert.throws(() => recommendPoolSize({ arrivalRatePerSecond: -1, holdTimeMs: 1 }), RangeError);
	});

	it("says from measured stats that a pool is too small, too large, or fits", async () => {
		const small = createPool({ name: "small", create: () => ({}), max: 2 });
		const held = await Promise.all([small.acquire(), small.acquire()]);
		const waiting = small.acquire();
		setTimeout(() => held[0].release(), 10);
		(await waiting).release();
		held[1].release();
		const tooSmall = assessPoolSize(small.stats());
		assert.equal(tooSmall.verdict, "too small");
		assert.match(tooSmall.reasons.join(), /callers waited \(peak \d\) while all 2 connections were in use/);
		assert.equal(tooSmall.suggestedMax, 4);

		const large = createPool({ name: "large", create: () => ({}), max: 50 });
		for (let i = 0; i < 20; i++) (await large.acquire()).release();
		const tooLarge = assessPoolSize(large.stats(), { windowSeconds: 1 });
		assert.equal(tooLarge.verdict, "too large");
		assert.match(tooLarge.reasons[0], /used 1 of 50 connections/);
		assert.ok(tooLarge.suggestedMax < 50);

		const fits = createPool({ name: "fits", create: () => ({}), min: 2, max: 2 });
		await fits.start();
		fits.resetStats();
		const both = await Promise.all([fits.acquire(), fits.acquire()]);
		for (const l of both) l.release();
		assert.equal(assessPoolSize(fits.stats()).verdict, "fits");
		await Promise.all([small.close(), large.close(), fits.close()]);
	});
});
