import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { Agent } from "undici";
import { createHttpClient } from "../../src/adapters/http/index.ts";
import { apiForPath, createLlmClient, formatOf, type LlmClient, LlmError, LlmErrorCode } from "../../src/adapters/llm/index.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { chat, clientFor, message, OPENAI_KEY } from "./fixtures.ts";
import { type LlmUpstream, startLlmUpstream } from "./servers/llm-upstream.ts";

let upstream: LlmUpstream;
let llm: LlmClient;

before(async () => {
	upstream = await startLlmUpstream({ models: ["m1", "m2"] });
	llm = clientFor(upstream, {
		"gpt-test": [{ provider: "local", maxConcurrent: 3 }],
		"claude-test": [{ provider: "claude" }],
		"text-embed": [{ provider: "local" }],
	});
});
after(async () => {
	await llm?.close();
	await upstream?.close();
});
beforeEach(() => upstream.reset());

describe("configuration", () => {
	it("lists every problem with its path, never quoting a key or a URL with credentials", () => {
		assert.throws(
			() =>
				createLlmClient({
					providers: {
						openai: { preset: "openai" },
						bad: { preset: "nope" as never },
						azure: { preset: "azure", apiKey: "k" },
						creds: { preset: "vllm", baseUrl: "http://user:hunter2secret@host/v1" },
						tuned: { preset: "ollama", maxConcurrent: 0, headersTimeoutMs: -1 },
					},
					models: {
						a: [{ provider: "missing" }],
						b: { deployments: [{ provider: "openai", weight: 0 }], fallbacks: ["zzz"] },
						c: { deployments: [] },
						mixed: [{ provider: "openai" }, { provider: "tuned" }],
					},
					routing: "random" as never,
					extra: 1,
				} as never),
			(e: unknown) => {
				assert.ok(e instanceof ConfigError);
				const paths = e.problems.map((p) => p.path);
				for (const path of [
					"extra",
					"routing",
					"providers.openai.apiKey",
					"providers.bad.preset",
					"providers.azure.baseUrl",
					"providers.creds.baseUrl",
					"providers.tuned.maxConcurrent",
					"providers.tuned.headersTimeoutMs",
					"models.a.deployments[0].provider",
					"models.b.deployments[0].weight",
					"models.b.fallbacks[0]",
					"models.c.deployments",
				]) {
					assert.ok(paths.includes(path), `${path} in ${paths.join(", ")}`);
				}
				assert.ok(!e.message.includes("hunter2secret"));
				return true;
			},
		);
	});

	it("durations a timer cannot honour are refused under their own path: past 2^31-1 ms, on a deployment too", () => {
		// Node fires a timer longer than 2^31-1 ms after 1 ms; the error must name the option the user wrote, not a pool internal.
		assert.throws(
			() =>
				createLlmClient({
					providers: { p: { preset: "openai", apiKey: "k", cooldownMs: 2 ** 31, headersTimeoutMs: 2 ** 32, bodyTimeoutMs: 2 ** 31 } },
					models: { m: [{ provider: "p", queueTimeoutMs: 2 ** 31 }] },
				}),
			(e: unknown) => {
				assert.ok(e instanceof ConfigError);
				assert.deepEqual(e.problems.map((p) => p.path).sort(), [
					"models.m.deployments[0].queueTimeoutMs",
					"providers.p.bodyTimeoutMs",
					"providers.p.cooldownMs",
					"providers.p.headersTimeoutMs",
				]);
				return true;
			},
		);
	});

	it("takes HTTP client options only for the HTTP client it makes itself", () => {
		assert.throws(
			() => createLlmClient({ dispatcher: new Agent(), http: { maxConnections: 5 }, providers: { o: { preset: "vllm" } }, models: { m: [{ provider: "o" }] } }),
			(e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.path === "http"),
		);
	});

	it("refuses a model whose deployments mix wire formats (fallbacks may: chat is translated)", () => {
		assert.throws(
			() =>
				createLlmClient({
					providers: { o: { preset: "vllm" }, a: { preset: "anthropic", apiKey: "k" } },
					models: { mixed: [{ provider: "o" }, { provider: "a", model: "c" }] },
				}),
			(e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.path === "models.mixed.deployments"),
		);
		const ok = createLlmClient({
			providers: { o: { preset: "vllm" }, a: { preset: "anthropic", apiKey: "k" } },
			models: { gpt: { deployments: [{ provider: "o" }], fallbacks: ["claude"] }, claude: { deployments: [{ provider: "a" }], fallbacks: ["gpt"] } },
		});
		void ok.close();
	});
});

describe("provider presets on the wire", () => {
	it("each preset has its provider's base URL and sends the key the way that provider expects", async () => {
		const expected = {
			openai: ["https://api.openai.com", "authorization"],
			openrouter: ["https://openrouter.ai", "authorization"],
			groq: ["https://api.groq.com", "authorization"],
			together: ["https://api.together.xyz", "authorization"],
			mistral: ["https://api.mistral.ai", "authorization"],
			vllm: ["http://127.0.0.1:8000", "authorization"],
			ollama: ["http://127.0.0.1:11434", "authorization"],
			anthropic: ["https://api.anthropic.com", "x-api-key"],
		} as const;
		const presets = Object.keys(expected) as (keyof typeof expected)[];
		const defaults = createLlmClient({
			providers: Object.fromEntries(presets.map((p) => [p, { preset: p, apiKey: `key-${p}-123456` }])),
			models: Object.fromEntries(presets.map((p) => [`m-${p}`, [{ provider: p }]])),
		});
		for (const d of defaults.details().deployments as { preset: keyof typeof expected; origin: string }[])
			assert.equal(d.origin, expected[d.preset][0], d.preset);
		await defaults.close();
		const local = createLlmClient({
			providers: Object.fromEntries(presets.map((p) => [p, { preset: p, baseUrl: `${upstream.origin}/v1`, apiKey: `key-${p}-123456` }])),
			models: Object.fromEntries(presets.map((p) => [`m-${p}`, [{ provider: p }]])),
		});
		for (const p of presets) {
			if (p === "anthropic") await local.messages(message(`m-${p}`));
			else await local.chat(chat(`m-${p}`));
			const sent = upstream.requests.at(-1)?.headers ?? {};
			const header = expected[p][1];
			assert.equal(sent[header], header === "authorization" ? `Bearer key-${p}-123456` : `key-${p}-123456`, p);
		}
		await local.close();
	});

	it("Azure: the deployment in the path, api-version in the query, the key in api-key", async () => {
		const azure = createLlmClient({
			providers: { az: { preset: "azure", baseUrl: upstream.origin, apiKey: "azure-key-123456" } },
			models: { gpt: [{ provider: "az", model: "prod-gpt4o" }] },
		});
		const answer = await azure.chat(chat("gpt"));
		assert.equal(answer.object, "chat.completion");
		assert.equal(upstream.requests[0].path, "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21");
		assert.equal(upstream.requests[0].headers["api-key"], "azure-key-123456");
		assert.equal(upstream.requests[0].headers.authorization, undefined);
		await azure.close();
	});

	it("Anthropic: x-api-key and anthropic-version; OpenAI-compatible: Bearer; the upstream model name replaces the public one", async () => {
		const c = clientFor(upstream, { public: [{ provider: "local", model: "private-name" }], claude: [{ provider: "claude", model: "claude-x" }] });
		await c.chat(chat("public"));
		await c.messages(message("claude"));
		assert.equal(upstream.requests[0].path, "/v1/chat/completions");
		assert.equal(upstream.requests[0].headers.authorization, `Bearer ${OPENAI_KEY}`);
		assert.equal(upstream.requests[0].body?.model, "private-name");
		assert.equal(upstream.requests[1].path, "/v1/messages");
		assert.equal(upstream.requests[1].headers["anthropic-version"], "2023-06-01");
		assert.equal(upstream.requests[1].body?.model, "claude-x");
		await c.close();
	});

	it("a provider's headers may set a newer anthropic-version, never the key header", async () => {
		const c = createLlmClient({
			providers: {
				a: {
					preset: "anthropic",
					baseUrl: `${upstream.origin}/v1`,
					apiKey: "real-key-123456",
					headers: { "anthropic-version": "2024-10-22", "x-api-key": "other", "anthropic-beta": "tools" },
				},
			},
			models: { claude: [{ provider: "a" }] },
		});
		await c.messages(message("claude"));
		assert.equal(upstream.requests[0].headers["anthropic-version"], "2024-10-22");
		assert.equal(upstream.requests[0].headers["anthropic-beta"], "tools");
		assert.equal(upstream.requests[0].headers["x-api-key"], "real-key-123456");
		await c.close();
	});

	it("lists a provider's own models through GET /models", async () => {
		const list = await llm.upstreamModels("local");
		assert.deepEqual(
			list.data.map((m) => m.id),
			["m1", "m2"],
		);
	});

	it("answers embeddings and completions", async () => {
		const e = await llm.embeddings({ model: "text-embed", input: ["a", "b"] });
		assert.equal(e.data.length, 2);
		assert.ok(Array.isArray(e.data[0].embedding));
		const c = await llm.completions({ model: "gpt-test", prompt: "say" });
		assert.equal(c.choices[0].text, "wordwordword");
	});

	it("a shared HTTP client refusing calls (its queue is full) is busy, not failing: no cooldown, UNAVAILABLE when every deployment is refused", async () => {
		const http = createHttpClient({ maxConnections: 1, maxConnectionsPerOrigin: 1, maxWaiters: 0 });
		const c = createLlmClient({
			dispatcher: http,
			providers: {
				a: { preset: "vllm", baseUrl: `${upstream.origin}/v1` },
				b: { preset: "vllm", baseUrl: `http://localhost:${new URL(upstream.origin).port}/v1` },
			},
			models: {
				m: {
					routing: "weighted",
					deployments: [
						{ provider: "a", model: "hog", weight: 1000 },
						{ provider: "b", model: "other", weight: 0.001 },
					],
				},
			},
		});
		upstream.script("hog", { kind: "ok", chunks: 100, delayMs: 10 });
		const holding = await c.chatStream(chat("m"));
		assert.equal(holding.deployment, "a/hog");
		await assert.rejects(c.chat(chat("m")), (e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.UNAVAILABLE);
		assert.equal(c.breakers()[0].state, "closed", "the HTTP client's limit is not the deployment's fault");
		await holding.cancel();
		await c.close();
		await http.close();
	});

	it("uses the dispatcher it is given (lifeguard's HTTP client, an Agent) and leaves it open on close", async () => {
		const agent = new Agent();
		const c = createLlmClient({
			dispatcher: agent,
			providers: { local: { preset: "vllm", baseUrl: `${upstream.origin}/v1` } },
			models: { m: [{ provider: "local" }] },
		});
		await c.chat(chat("m"));
		await c.close();
		assert.equal(agent.closed, false);
		await agent.close();
	});
});

describe("a managed client", () => {
	it("is kind llm with one pool per deployment, labelled, then its HTTP client's origin pools, and one breaker per deployment", async () => {
		assert.equal(llm.kind, "llm");
		await llm.chat(chat("gpt-test"));
		assert.deepEqual(
			llm.pools().map((p) => p.label),
			["local/gpt-test", "claude/claude-test", "local/text-embed", upstream.origin],
		);
		const origin = llm.pools()[3].pool.stats();
		assert.ok(origin.total >= 1, "requests went through lifeguard's HTTP client, pooled per origin");
		const deployment = (llm.details().deployments as Record<string, unknown>[])[0];
		assert.equal(deployment.label, "local/gpt-test");
		assert.ok((deployment.headersMs as { count: number }).count >= 1, "time to headers per deployment");
		assert.ok((deployment.tokens as { prompt: number }).prompt > 0, "tokens per deployment");
		assert.equal(llm.pools()[0].pool.stats().total <= 3, true);
		assert.deepEqual(
			llm.breakers().map((b) => [b.label, b.state]),
			[
				["local/gpt-test", "closed"],
				["claude/claude-test", "closed"],
				["local/text-embed", "closed"],
			],
		);
		const models = llm.models();
		assert.deepEqual(
			models.map((m) => [m.id, m.format]),
			[
				["gpt-test", "openai"],
				["claude-test", "anthropic"],
				["text-embed", "openai"],
			],
		);
	});

	it("caps requests in flight per deployment at maxConcurrent; the rest wait for a slot", async () => {
		upstream.script("gpt-test", { kind: "ok", chunks: 5, delayMs: 20 });
		const streams = await Promise.all(Array.from({ length: 3 }, () => llm.chatStream(chat("gpt-test"))));
		const waiting = llm.chat(chat("gpt-test"));
		await new Promise((r) => setTimeout(r, 20));
		const stats = llm.pools()[0].pool.stats();
		assert.equal(stats.active, 3);
		assert.equal(stats.pending, 1);
		assert.equal(upstream.active, 3);
		await Promise.all(streams.map((s) => s.text()));
		assert.equal((await waiting).object, "chat.completion");
	});

	it("close({ timeoutMs }) does not wait past its deadline for a stream still running, and ends it", async () => {
		const c = clientFor(upstream, { m: [{ provider: "local", model: "endless" }] });
		upstream.script("endless", { kind: "ok", chunks: 10_000, delayMs: 10 });
		const stream = await c.chatStream(chat("m"));
		const reading = stream.text().then(
			() => "ended",
			(e: unknown) => (e as LlmError).code,
		);
		const started = Date.now();
		await c.close({ timeoutMs: 100 });
		assert.ok(Date.now() - started < 2_000, `closed in ${Date.now() - started} ms`);
		assert.notEqual(await reading, "ended", "the stream did not end cleanly");
	});

	it("closes its pools; requests after close are refused", async () => {
		const c = clientFor(upstream, { m: [{ provider: "local" }] });
		await c.chat(chat("m"));
		await c.close();
		await assert.rejects(c.chat(chat("m")), (e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.CLOSED);
	});
});

describe("rate limits per deployment (RPM/TPM)", () => {
	it("a deployment over its requests per minute sends the next request to another deployment", async () => {
		const c = clientFor(upstream, {
			gpt: {
				routing: "weighted",
				deployments: [
					{ provider: "local", model: "metered", rpm: 2, queueTimeoutMs: 50, weight: 1000 },
					{ provider: "local", model: "spare", weight: 0.001 },
				],
			},
		});
		const served = [];
		for (let i = 0; i < 4; i++) served.push((await c.chat(chat("gpt"))).model);
		assert.deepEqual(served, ["metered", "metered", "spare", "spare"]);
		assert.equal(c.breakers()[0].state, "closed", "its own budget is not a failure");
		await c.close();
	});

	it("alone, a deployment over its tokens per minute refuses at once with RATE_LIMITED and a retry-after", async () => {
		const c = clientFor(upstream, { gpt: [{ provider: "local", model: "tiny", tpm: 120, queueTimeoutMs: 50 }] });
		await c.chat(chat("gpt", { max_tokens: 100 }));
		await assert.rejects(c.chat(chat("gpt", { max_tokens: 100 })), (e: unknown) => {
			assert.ok(e instanceof LlmError);
			assert.equal(e.code, LlmErrorCode.RATE_LIMITED);
			assert.ok((e.retryAfterMs ?? 0) > 0);
			return true;
		});
		assert.equal(upstream.hits("tiny"), 1);
		await c.close();
	});

	it("settles each reservation with the usage the provider reported", async () => {
		const c = clientFor(upstream, { gpt: [{ provider: "local", model: "settled", tpm: 1_000 }] });
		await c.chat(chat("gpt", { max_tokens: 500 }));
		const left = (c.details().rateLimits as { keys: Record<string, { tokens: number }> }).keys["local/settled"].tokens;
		assert.ok(left > 980, `the 500-token estimate was refunded down to the ~12 tokens used (left ${left})`);
		await c.close();
	});
});

describe("seed 000's shape: execute and pooled connections", () => {
	it('execute("complete") and execute("chat") return the text and the usage, in either format', async () => {
		const completion = await llm.execute("complete", { model: "gpt-test", prompt: "Say hi", max_tokens: 5 });
		assert.equal(completion.text, "wordwordword");
		assert.equal(upstream.requests[0].path, "/v1/completions");
		const reply = await llm.execute("chat", {
			model: "claude-test",
			messages: [
				{ role: "system", content: "be brief" },
				{ role: "user", content: "hi" },
			],
		});
		assert.equal(reply.text, "wordwordword");
		assert.equal(reply.deployment, "claude/claude-test");
		assert.equal(upstream.requests[1].body?.system, "be brief", "system messages move to Anthropic's system field");
		assert.ok((reply.usage?.totalTokens ?? 0) > 0);
		const vectors = await llm.execute("embed", { model: "text-embed", input: ["x"] });
		assert.equal(vectors.embeddings?.[0].length, 8);
	});

	it("a pooled connection holds a slot on one deployment until it is released", async () => {
		const connection = await llm.getConnection("gpt-test");
		assert.equal(connection.deployment, "local/gpt-test");
		assert.equal(llm.pools()[0].pool.stats().active, 1);
		const result = await connection.execute("chat", { messages: [{ role: "user", content: "hi" }] });
		assert.equal(result.text, "wordwordword");
		assert.equal(llm.pools()[0].pool.stats().active, 1, "its calls use the slot it holds");
		connection.release();
		assert.equal(llm.pools()[0].pool.stats().active, 0);
		{
			await using held = await llm.getConnection("claude-test");
			assert.equal((await held.execute("complete", { prompt: "hi" })).text, "wordwordword");
		}
		assert.equal(llm.pools()[1].pool.stats().active, 0);
	});
});

describe("a released connection", () => {
	it("refuses execute() after release: it holds no slot, so a call would go past maxConcurrent unseen by the statistics", async () => {
		const c = clientFor(upstream, { gpt: [{ provider: "local", model: "one-slot", maxConcurrent: 1 }] });
		try {
			const connection = await c.getConnection("gpt");
			connection.release();
			connection.release(); // idempotent (the pool warns once)
			const holder = await c.getConnection("gpt"); // the only slot, now someone else's
			const before = upstream.hits("one-slot");
			await assert.rejects(connection.execute("chat", { messages: [{ role: "user", content: "hi" }] }), (e: unknown) => {
				assert.ok(e instanceof LlmError);
				assert.equal(e.code, LlmErrorCode.CLOSED);
				assert.match(e.message, /released/);
				return true;
			});
			assert.equal(upstream.hits("one-slot"), before, "nothing was sent");
			assert.equal((await holder.execute("chat", { messages: [{ role: "user", content: "hi" }] })).text, "wordwordword");
			holder.release();
		} finally {
			await c.close();
		}
	});
});

describe("helpers for gateways", () => {
	it("maps gateway routes to APIs and APIs to wire formats", () => {
		assert.equal(apiForPath("/v1/chat/completions"), "openai.chat");
		assert.equal(apiForPath("/v1/messages?beta=true"), "anthropic.messages");
		assert.equal(apiForPath("/v1/embeddings/"), "openai.embeddings");
		assert.equal(apiForPath("/v1/responses"), undefined);
		assert.equal(formatOf("anthropic.messages"), "anthropic");
		assert.equal(formatOf("openai.completions"), "openai");
	});
});
