import assert from "node:assert/strict";
import net from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { createLlmClient, errorBody, type LlmClient, LlmError, LlmErrorCode, redact, retryAfterOf } from "../../src/adapters/llm/index.ts";
import { transportError } from "../../src/adapters/llm/upstream.ts";
import { LifeguardError, PoolClosedError } from "../../src/core/errors.ts";
import { ANTHROPIC_KEY, chat, clientFor, message, OPENAI_KEY } from "./fixtures.ts";
import { type LlmUpstream, startLlmUpstream } from "./servers/llm-upstream.ts";

let upstream: LlmUpstream;
let llm: LlmClient;

before(async () => {
	upstream = await startLlmUpstream();
	const models: Record<string, { provider: string; model: string; headersTimeoutMs?: number; bodyTimeoutMs?: number }[]> = {};
	for (const name of ["e401", "e429", "e529", "e500", "e503", "ectx", "eleak", "stall", "ecut"]) {
		models[`gpt-${name}`] = [{ provider: "local", model: `gpt-${name}`, headersTimeoutMs: 300, bodyTimeoutMs: 300 }];
		models[`claude-${name}`] = [{ provider: "claude", model: `claude-${name}`, headersTimeoutMs: 300, bodyTimeoutMs: 300 }];
	}
	llm = clientFor(upstream, models);
});
after(async () => {
	await llm?.close();
	await upstream?.close();
});
beforeEach(() => upstream.reset());

const scripts = {
	e401: { kind: "error", status: 401 },
	e429: { kind: "error", status: 429, retryAfter: "12" },
	e529: { kind: "error", status: 529 },
	e500: { kind: "error", status: 500 },
	e503: { kind: "error", status: 503 },
	ectx: { kind: "error", status: 400, code: "context_length_exceeded" },
} as const;

async function failure(format: "gpt" | "claude", name: keyof typeof scripts): Promise<LlmError> {
	const model = `${format}-${name}`;
	upstream.script(model, scripts[name]);
	try {
		if (format === "gpt") await llm.chat(chat(model));
		else await llm.messages(message(model));
	} catch (error) {
		assert.ok(error instanceof LlmError, String(error));
		assert.ok(error instanceof LifeguardError, "an LlmError is a LifeguardError");
		return error;
	}
	throw new Error("no error");
}

describe("typed errors from the providers' error bodies", () => {
	for (const format of ["gpt", "claude"] as const) {
		it(`${format === "gpt" ? "OpenAI" : "Anthropic"}: auth, rate limit with retry-after, overloaded, context length, server`, async () => {
			const auth = await failure(format, "e401");
			assert.equal(auth.code, LlmErrorCode.AUTH);
			assert.equal(auth.status, 401);
			const limited = await failure(format, "e429");
			assert.equal(limited.code, LlmErrorCode.RATE_LIMITED);
			assert.equal(limited.retryAfterMs, 12_000);
			assert.match(limited.message, /retry after 12 s/);
			const overloaded = await failure(format, "e529");
			assert.equal(overloaded.code, LlmErrorCode.OVERLOADED);
			assert.equal(overloaded.status, 529);
			const context = await failure(format, "ectx");
			assert.equal(context.code, LlmErrorCode.CONTEXT_LENGTH);
			assert.equal(context.status, 400);
			const server = await failure(format, "e500");
			assert.equal(server.code, LlmErrorCode.SERVER);
			assert.equal(server.deployment, `${format === "gpt" ? "local" : "claude"}/${format}-e500`);
			assert.equal((await failure(format, "e503")).code, LlmErrorCode.OVERLOADED);
		});
	}

	it("never shows the API key, even when the provider echoes it", async () => {
		upstream.script("gpt-eleak", { kind: "error", status: 401, message: `Incorrect API key provided: ${OPENAI_KEY}.` });
		upstream.script("claude-eleak", { kind: "error", status: 401, message: `invalid x-api-key ${ANTHROPIC_KEY}` });
		for (const [call, key] of [
			[() => llm.chat(chat("gpt-eleak")), OPENAI_KEY],
			[() => llm.messages(message("claude-eleak")), ANTHROPIC_KEY],
		] as const) {
			await assert.rejects(call(), (e: unknown) => {
				assert.ok(e instanceof LlmError);
				const shown = `${e.message} ${e.stack} ${JSON.stringify(e)} ${errorBody("openai", e)} ${errorBody("anthropic", e)}`;
				assert.ok(!shown.includes(key), shown);
				assert.ok(!shown.includes(key.slice(0, 16)));
				assert.match(e.message, /\[redacted\]/);
				return true;
			});
		}
		const details = JSON.stringify(llm.details());
		assert.ok(!details.includes(OPENAI_KEY) && !details.includes(ANTHROPIC_KEY));
		assert.ok(!JSON.stringify(llm.breakers()).includes(OPENAI_KEY));
	});

	it("redacts anything shaped like a provider key", () => {
		assert.equal(redact("key sk-proj-abcdef123456 and sk-ant-api03-XYZxyz123456", []), "key [redacted] and [redacted]");
		assert.equal(redact("the secret hunter2 leaked", ["hunter2"]), "the secret [redacted] leaked");
	});
});

describe("typed errors below HTTP", () => {
	it("no headers within headersTimeoutMs, or a stream silent for bodyTimeoutMs, is TIMEOUT", async () => {
		upstream.script("gpt-stall", { kind: "silent" });
		upstream.script("claude-stall", { kind: "stall" });
		await assert.rejects(
			llm.chat(chat("gpt-stall")),
			(e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.TIMEOUT && /headersTimeoutMs/.test(e.message),
		);
		await assert.rejects(
			llm.messagesStream(message("claude-stall")),
			(e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.TIMEOUT && /bodyTimeoutMs/.test(e.message),
		);
	});

	it("the HTTP client refusing a call because it is closing is UNAVAILABLE, not the deployment's CONNECTION fault", () => {
		const deployment = { label: "local/gpt", tuning: { headersTimeoutMs: 1, bodyTimeoutMs: 1 } } as unknown as Parameters<typeof transportError>[3];
		const request = { model: "gpt" } as unknown as Parameters<typeof transportError>[4];
		const closed = transportError(new PoolClosedError("llm/local"), "headers", "llm", deployment, request);
		assert.equal(closed.code, LlmErrorCode.UNAVAILABLE);
		assert.equal(closed.status, 503);
		assert.equal(
			transportError(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }), "headers", "llm", deployment, request).code,
			LlmErrorCode.CONNECTION,
		);
	});

	it("a refused connection is CONNECTION", async () => {
		const port = await new Promise<number>((resolve) => {
			const s = net.createServer().listen(0, "127.0.0.1", () => {
				const p = (s.address() as net.AddressInfo).port;
				s.close(() => resolve(p));
			});
		});
		const dead = createLlmClient({ providers: { gone: { preset: "vllm", baseUrl: `http://127.0.0.1:${port}/v1` } }, models: { m: [{ provider: "gone" }] } });
		await assert.rejects(dead.chat(chat("m")), (e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.CONNECTION && e.deploymentFault);
		await dead.close();
	});

	it("a JSON body cut half-way is STREAM_CUT before the first byte, so it can go elsewhere", async () => {
		upstream.script("gpt-ecut", { kind: "cut", afterChunks: 0 });
		await assert.rejects(llm.chat(chat("gpt-ecut")), (e: unknown) => e instanceof LlmError && e.code === LlmErrorCode.STREAM_CUT);
	});
});

describe("Retry-After", () => {
	it("reads seconds, an HTTP date and retry-after-ms", () => {
		const now = Date.parse("2026-01-01T00:00:00Z");
		assert.equal(retryAfterOf({ "retry-after": "3" }, now), 3_000);
		assert.equal(retryAfterOf({ "retry-after": "Thu, 01 Jan 2026 00:00:10 GMT" }, now), 10_000);
		assert.equal(retryAfterOf({ "retry-after-ms": "250", "retry-after": "9" }, now), 250);
		assert.equal(retryAfterOf({ "retry-after": "soon" }, now), undefined);
		assert.equal(retryAfterOf({}, now), undefined);
	});
});
