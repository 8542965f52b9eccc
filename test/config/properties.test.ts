/** Property tests over generated bad configurations: every one rejected with a path-named error, none crashes, none prints a secret. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { explain, loadConfig, POOL_KINDS } from "../../src/config/index.ts";
import { ConfigError, ErrorCode } from "../../src/core/errors.ts";

const secretArb = fc.stringMatching(/^[A-Za-z0-9]{10,20}$/).map((s) => `Zq9${s}`);

/** A valid pool per kind, with a password or API key where the kind has one. */
function validPool(kind: (typeof POOL_KINDS)[number], secret: string): Record<string, unknown> {
	switch (kind) {
		case "postgres":
		case "mysql":
			return { kind, host: "db", user: "app", password: secret };
		case "sqlite":
			return { kind, filename: ":memory:" };
		case "redis":
			return { kind, url: "redis://127.0.0.1:6379", password: secret };
		case "http":
			return { kind, prewarm: ["https://api.example.com"] };
		case "llm":
			return {
				kind,
				providers: { main: { preset: "openai", apiKey: secret, headers: { "x-org-token": secret } } },
				models: { gpt: [{ provider: "main" }] },
			};
		case "websocket":
			return { kind, url: "wss://feed.example", headers: { Authorization: `Bearer ${secret}` } };
		case "comfyui":
			return { kind, instances: [{ url: "http://127.0.0.1:8188", auth: { token: secret } }] };
		case "mongodb":
			return { kind, url: `mongodb://app:${secret}@127.0.0.1:27017/app`, driverOptions: { auth: { username: "app", password: secret } } };
		case "firestore":
			return { kind, settings: { projectId: "p", credentials: { client_email: "svc@p.iam", private_key: secret } } };
	}
}

type Mutation = { apply: (pool: Record<string, unknown>, secret: string) => void; key: string };

const numericKeys = ["min", "max", "acquireTimeoutMs", "idleTimeoutMs", "maxLifetimeMs", "createTimeoutMs", "maxWaiters"];
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
	// An unknown key (never one the schema knows), holding the secret.
	fc.stringMatching(/^[a-z][a-zA-Z]{2,12}$/).map((key): Mutation => ({ key: `x${key}`, apply: (p, secret) => (p[`x${key}`] = secret) })),
	// A number that is not one: the secret, a negative, an object, an array, a word.
	fc.tuple(fc.constantFrom(...numericKeys), fc.constantFrom("secret", "negative", "object", "array", "word")).map(
		([key, how]): Mutation => ({
			key,
			apply: (p, secret) => {
				p[key] = how === "secret" ? secret : how === "negative" ? -5 : how === "object" ? { value: secret } : how === "array" ? [secret] : `${secret} ms`;
			},
		}),
	),
	// A kind that does not exist.
	fc.stringMatching(/^[a-z]{3,10}$/).map(
		(kind): Mutation => ({
			key: "kind",
			apply: (p) => {
				p.kind = (POOL_KINDS as readonly string[]).includes(kind) ? `${kind}x` : kind;
			},
		}),
	),
	// A boolean that is not one.
	fc.constant({ key: "failFast", apply: (p: Record<string, unknown>, secret: string) => (p.failFast = `maybe-${secret}`) }),
);

function assertRejected(run: () => unknown, expectedPaths: string[], secret: string): void {
	let error: unknown;
	try {
		run();
	} catch (e) {
		error = e;
	}
	assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
	assert.equal(error.code, ErrorCode.CONFIG_INVALID);
	assert.ok(error.problems.length > 0);
	const paths = error.problems.map((p) => p.path);
	for (const path of expectedPaths) assert.ok(paths.includes(path), `${path} not among ${paths.join(", ")}`);
	const everything = `${error.message}\n${JSON.stringify(error.problems)}\n${error.stack ?? ""}`;
	assert.ok(!everything.includes(secret), `the secret appears in: ${everything}`);
}

describe("generated bad configurations", () => {
	it("from code: each mutated key is reported by path, nothing crashes, no secret is printed", () => {
		fc.assert(
			fc.property(fc.constantFrom(...POOL_KINDS), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), secretArb, (kind, mutations, secret) => {
				const pool = validPool(kind, secret);
				for (const m of mutations) m.apply(pool, secret);
				// A bad kind hides the kind's other checks: only the kind is then expected.
				const kindBroken = mutations.some((m) => m.key === "kind");
				const expected = kindBroken ? ["pools.p.kind"] : [...new Set(mutations.map((m) => `pools.p.${m.key}`))];
				assertRejected(() => loadConfig({ config: { pools: { p: pool } }, env: {} }), expected, secret);
			}),
			{ numRuns: 300 },
		);
	});

	it("from YAML and environment variables: reported with the file position or variable, no secret printed", () => {
		fc.assert(
			fc.property(fc.constantFrom("postgres", "redis", "llm"), fc.constantFrom(...numericKeys), secretArb, fc.boolean(), (kind, key, secret, viaEnv) => {
				const base =
					kind === "llm"
						? `providers:\n      main:\n        preset: openai\n        apiKey: \${SECRET_VALUE}\n    models:\n      gpt: [{ provider: main }]`
						: `${kind === "redis" ? "url: redis://127.0.0.1:6379" : "host: db"}\n    password: \${SECRET_VALUE}`;
				const yaml = `pools:\n  p:\n    kind: ${kind}\n    ${base}\n${viaEnv ? "" : `    ${key}: "\${SECRET_VALUE}"\n`}`;
				const env: NodeJS.ProcessEnv = { SECRET_VALUE: secret };
				if (viaEnv) env[`LIFEGUARD_POOLS__P__${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`] = secret;
				assertRejected(() => loadConfig({ yaml, env }), [`pools.p.${key}`], secret);
			}),
			{ numRuns: 150 },
		);
	});

	it("valid configurations with secrets load, and explain() masks every secret", () => {
		fc.assert(
			fc.property(fc.constantFrom(...POOL_KINDS), secretArb, (kind, secret) => {
				const config = loadConfig({ config: { pools: { p: validPool(kind, secret) } }, env: {} });
				assert.ok(!JSON.stringify(explain(config)).includes(secret));
			}),
			{ numRuns: 100 },
		);
	});

	it("arbitrary YAML never crashes the loader: it loads or throws a ConfigError", () => {
		fc.assert(
			fc.property(fc.string({ maxLength: 200 }), (yaml) => {
				try {
					loadConfig({ yaml, env: {} });
				} catch (error) {
					assert.ok(error instanceof ConfigError, String(error));
				}
			}),
			{ numRuns: 300 },
		);
	});
});
