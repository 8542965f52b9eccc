import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { type LlmClient, LlmError, LlmErrorCode } from "../../src/adapters/llm/index.ts";
import { chat, clientFor, message, sleep } from "./fixtures.ts";
import { type LlmUpstream, startLlmUpstream } from "./servers/llm-upstream.ts";

let upstream: LlmUpstream;
const clients: LlmClient[] = [];
const client = (...args: Parameters<typeof clientFor>) => {
	const c = clientFor(...args);
	clients.push(c);
	return c;
};

before(async () => {
	upstream = await startLlmUpstream();
});
after(async () => {
	await Promise.all(clients.map((c) => c.close()));
	await upstream?.close();
});
beforeEach(() => upstream.reset());

describe("routing over a model's deployments", () => {
	it("least-busy sends each new request to the deployment with the fewest in flight", async () => {
		const llm = client(upstream, {
			gpt: [
				{ provider: "local", model: "east" },
				{ provider: "local", model: "west" },
			],
		});
		upstream.script("east", { kind: "ok", chunks: 50, delayMs: 10 });
		upstream.script("west", { kind: "ok", chunks: 50, delayMs: 10 });
		const streams = [];
		for (let i = 0; i < 4; i++) streams.push(await llm.chatStream(chat("gpt")));
		const counts = { "local/east": 0, "local/west": 0 } as Record<string, number>;
		for (const s of streams) counts[s.deployment]++;
		assert.deepEqual(counts, { "local/east": 2, "local/west": 2 });
		await Promise.all(streams.map((s) => s.cancel()));
	});

	it("weighted routing splits traffic in proportion to the weights", async () => {
		const llm = client(upstream, {
			gpt: {
				routing: "weighted",
				deployments: [
					{ provider: "local", model: "big", weight: 3 },
					{ provider: "local", model: "small", weight: 1 },
				],
			},
		});
		const n = 400;
		for (let i = 0; i < n; i++) await llm.chat(chat("gpt"));
		const share = upstream.hits("big") / n;
		assert.ok(share > 0.66 && share < 0.84, `big got ${share}`);
	});
});

describe("cooldown and fallback before the first byte", () => {
	it("falls back to another model when every deployment fails before the first byte", async () => {
		const llm = client(upstream, {
			primary: { deployments: [{ provider: "local", model: "error-529-a" }], fallbacks: ["backup"] },
			backup: [{ provider: "local", model: "ok-b" }],
		});
		const answer = await llm.chat(chat("primary"));
		assert.equal(answer.model, "ok-b");
		assert.equal(upstream.hits("error-529-a"), 1);
		assert.equal(upstream.hits("ok-b"), 1);
	});

	it("a lone failing deployment cools down: the next requests go straight to the fallback", async () => {
		const llm = client(upstream, {
			solo: { deployments: [{ provider: "local", model: "solo-up", cooldownMs: 300 }], fallbacks: ["backup"] },
			backup: [{ provider: "local", model: "ok-b" }],
		});
		upstream.script("solo-up", { kind: "error", status: 500 });
		for (let i = 0; i < 5; i++) await llm.chat(chat("solo"));
		assert.equal(upstream.hits("solo-up"), 1, "only the first request paid for the failing deployment");
		assert.equal(upstream.hits("ok-b"), 5);
		const breaker = llm.breakers().find((b) => b.label === "local/solo-up");
		assert.equal(breaker?.state, "open");
		assert.ok((breaker?.retryAtMs ?? 0) > Date.now());

		upstream.script("solo-up", undefined);
		await sleep(350);
		const probe = await llm.chat(chat("solo"));
		assert.equal(probe.model, "solo-up", "after the cooldown one probe goes to it, and it is back");
		assert.equal(llm.breakers().find((b) => b.label === "local/solo-up")?.state, "closed");
	});

	it("cools down for the provider's Retry-After on a 429", async () => {
		const llm = client(upstream, { gpt: [{ provider: "local", model: "limited" }] });
		upstream.script("limited", { kind: "error", status: 429, retryAfter: "7" });
		await assert.rejects(llm.chat(chat("gpt")), (e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.RATE_LIMITED && e.retryAfterMs === 7_000);
		const retryAt = llm.breakers()[0].retryAtMs ?? 0;
		assert.ok(Math.abs(retryAt - (Date.now() + 7_000)) < 500, "open for the 7 s the provider asked");
		await assert.rejects(llm.chat(chat("gpt")), (e: unknown) => {
			assert.ok(e instanceof LlmError);
			assert.equal(e.code, LlmErrorCode.UNAVAILABLE);
			assert.equal(e.status, 503);
			assert.ok((e.retryAfterMs ?? 0) > 6_000);
			return true;
		});
		assert.equal(upstream.hits("limited"), 1, "a cooling deployment is not called");
	});

	it("tries the next deployment of the group before the fallbacks", async () => {
		const llm = client(upstream, {
			gpt: {
				routing: "weighted",
				deployments: [
					{ provider: "local", model: "error-503-x", weight: 1000 },
					{ provider: "local", model: "good-y", weight: 0.001 },
				],
				fallbacks: ["backup"],
			},
			backup: [{ provider: "local", model: "ok-b" }],
		});
		const answer = await llm.chat(chat("gpt"));
		assert.equal(answer.model, "good-y");
		assert.equal(upstream.hits("ok-b"), 0);
	});

	it("with nowhere else to go, a failure with no Retry-After is retried on the same deployment after a backoff", async () => {
		const llm = client(upstream, { gpt: [{ provider: "local", model: "wobbly" }] });
		upstream.script("wobbly", { kind: "error", status: 502, times: 1 });
		const started = Date.now();
		const answer = await llm.chat(chat("gpt"));
		assert.equal(answer.model, "wobbly");
		assert.equal(upstream.hits("wobbly"), 2);
		assert.ok(Date.now() - started < 1_000, "one short jittered backoff");
		assert.equal(llm.breakers()[0].state, "closed", "its success closed the cooldown again");
	});

	it("with nowhere else to go, a deployment cooling down after a 5xx still takes the next requests", async () => {
		const llm = client(upstream, { gpt: [{ provider: "local", model: "shaky", cooldownMs: 60_000 }] }, { maxAttempts: 1 });
		upstream.script("shaky", { kind: "error", status: 500, times: 1 });
		await assert.rejects(llm.chat(chat("gpt")), (e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.SERVER);
		assert.equal(llm.breakers()[0].state, "open");
		assert.equal((await llm.chat(chat("gpt"))).model, "shaky", "not refused for a minute after one 500");
	});

	it("a burst against a lone deployment that keeps failing: one request at a time retries it, not every request maxAttempts times", async () => {
		// Before: 20 concurrent requests made 60 upstream calls (each retried twice on its own), and 20 more, while it
		// cooled down, 60 again: the failing backend got maxAttempts times the traffic it was already failing under.
		const llm = client(upstream, { gpt: [{ provider: "local", model: "down-hard" }] });
		upstream.script("down-hard", { kind: "error", status: 500 });
		const burst = () => Promise.allSettled(Array.from({ length: 20 }, () => llm.chat(chat("gpt"))));
		for (const round of [1, 2]) {
			upstream.reset();
			upstream.script("down-hard", { kind: "error", status: 500 });
			const results = await burst();
			assert.ok(
				results.every((r) => r.status === "rejected" && (r.reason as LlmError).code === LlmErrorCode.SERVER),
				"each fails with the upstream's error",
			);
			const hits = upstream.hits("down-hard");
			assert.ok(hits >= 20 && hits <= 24, `round ${round}: ${hits} upstream calls for 20 requests`);
		}
	});

	it("never falls back after the first byte: a cut stream ends in an error", async () => {
		const llm = client(upstream, {
			cutter: { deployments: [{ provider: "local", model: "cut-stream-1" }], fallbacks: ["backup"] },
			backup: [{ provider: "local", model: "ok-b" }],
		});
		const stream = await llm.chatStream(chat("cutter"));
		await assert.rejects(stream.text(), (e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.STREAM_CUT);
		assert.equal(upstream.hits("ok-b"), 0);
		assert.equal(llm.breakers().find((b) => b.label === "local/cut-stream-1")?.state, "open", "a cut cools the deployment down");
	});

	it("an error event as a stream's first frame falls back (nothing reached the caller yet)", async () => {
		const llm = client(upstream, {
			claude: { deployments: [{ provider: "claude", model: "busy" }], fallbacks: ["claude-backup"] },
			"claude-backup": [{ provider: "claude", model: "calm" }],
		});
		upstream.script("busy", { kind: "errorEvent", afterChunks: 0, first: true, errorType: "overloaded_error" });
		const stream = await llm.messagesStream(message("claude"));
		assert.equal(stream.deployment, "claude/calm");
		assert.equal(await stream.text(), "wordwordword");
		assert.equal(
			llm
				.breakers()
				.find((b) => b.label === "claude/busy")
				?.lastError?.startsWith(LlmErrorCode.OVERLOADED),
			true,
		);
	});

	it("the caller's own errors (context length) neither fall back nor cool down", async () => {
		const llm = client(upstream, {
			gpt: { deployments: [{ provider: "local", model: "error-context" }], fallbacks: ["backup"] },
			backup: [{ provider: "local", model: "ok-b" }],
		});
		await assert.rejects(llm.chat(chat("gpt")), (e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.CONTEXT_LENGTH);
		assert.equal(upstream.hits("ok-b"), 0);
		assert.equal(llm.breakers().find((b) => b.label === "local/error-context")?.state, "closed");
	});

	it("maxAttempts bounds the attempts of one request", async () => {
		const models = Array.from({ length: 5 }, (_, i) => ({ provider: "local", model: `error-500-${i}` }));
		const llm = client(upstream, { gpt: models }, { maxAttempts: 2 });
		await assert.rejects(llm.chat(chat("gpt")), (e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.SERVER);
		assert.equal(upstream.requests.length, 2);
	});

	it("a full deployment is skipped for the next one without cooling down", async () => {
		const llm = client(upstream, {
			gpt: {
				routing: "weighted",
				deployments: [
					{ provider: "local", model: "narrow", maxConcurrent: 1, maxQueue: 0, weight: 1000 },
					{ provider: "local", model: "wide", weight: 0.001 },
				],
			},
		});
		upstream.script("narrow", { kind: "ok", chunks: 100, delayMs: 10 });
		const holding = await llm.chatStream(chat("gpt"));
		assert.equal(holding.deployment, "local/narrow");
		const answer = await llm.chat(chat("gpt"));
		assert.equal(answer.model, "wide");
		assert.equal(llm.breakers().find((b) => b.label === "local/narrow")?.state, "closed");
		await holding.cancel();
	});
});
