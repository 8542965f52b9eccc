/**
 * The LLM gateway end to end: the service in a child process in front of a local upstream that
 * speaks real SSE in both formats, driven by the official `openai` and `@anthropic-ai/sdk` clients.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { ANTHROPIC_KEY, OPENAI_KEY } from "../llm/fixtures.ts";
import { type LlmUpstream, startLlmUpstream } from "../llm/servers/llm-upstream.ts";
import { waitFor } from "../support/wait.ts";
import { type Json, type ServiceProcess, startServiceProcess } from "./service-process.ts";

const TEAM_KEY = "lg-team-a-0123456789abcdef";
const LIMITED_KEY = "lg-limited-0123456789abcdef";
const FRUGAL_KEY = "lg-frugal-0123456789abcdef";
const STREAMER_KEY = "lg-streamer-0123456789abcdef";

describe("the LLM gateway", () => {
	let upstream: LlmUpstream;
	let service: ServiceProcess;
	let dir: string;
	let openai: OpenAI;
	let anthropic: Anthropic;
	/** Until the service's usage shows a charged call of `clientKey` (charged and recorded in one callback, when the call's usage settled). */
	const charged = (clientKey: string) =>
		waitFor(`${clientKey}'s call to be charged`, async () => {
			const usage = (await service.request("GET", "/health/providers")).body.usage as Json[];
			return usage.some((r) => r.clientKey === clientKey && r.promptTokens + r.completionTokens > 0);
		});

	before(async () => {
		upstream = await startLlmUpstream();
		dir = mkdtempSync(join(tmpdir(), "lifeguard-gateway-"));
		const config = join(dir, "lifeguard.yaml");
		writeFileSync(
			config,
			`service:
  notReadyGraceMs: 0
  metricsPublic: true
gateway:
  keys:
    - { name: team-a, key: ${TEAM_KEY} }
    - { name: limited, key: ${LIMITED_KEY}, models: [gpt-test], rpm: 2 }
    - { name: frugal, key: ${FRUGAL_KEY}, tpm: 10 }
    - { name: streamer, key: ${STREAMER_KEY}, tpm: 10 }
  llm:
    svc_llm:
      providers:
        local: { preset: openai-compatible, baseUrl: "${upstream.origin}/v1", apiKey: ${OPENAI_KEY} }
        claude: { preset: anthropic, baseUrl: "${upstream.origin}/v1", apiKey: ${ANTHROPIC_KEY} }
      models:
        gpt-test: [{ provider: local }]
        embed-test: [{ provider: local }]
        slow-stream: [{ provider: local }]
        big-stream: [{ provider: local }]
        claude-test: [{ provider: claude }]
        cut-stream: [{ provider: local }]
        claude-cut: [{ provider: claude, model: cut-stream }]
        flaky:
          deployments: [{ provider: local, model: error-500, cooldownMs: 60000 }]
          fallbacks: [gpt-test]
`,
		);
		service = await startServiceProcess({ args: ["--config", config] });
		openai = new OpenAI({ baseURL: `${service.url}/v1`, apiKey: TEAM_KEY, maxRetries: 0 });
		anthropic = new Anthropic({ baseURL: service.url, apiKey: TEAM_KEY, maxRetries: 0 });
	});

	after(async () => {
		if (process.env.DEBUG_SERVICE) console.log(service?.stderr());
		await service?.stop();
		await upstream?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	describe("OpenAI-compatible", () => {
		it("answers chat completions whole", async () => {
			const completion = await openai.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] });
			assert.equal(completion.object, "chat.completion");
			assert.ok((completion.choices[0].message.content ?? "").length > 0);
			assert.ok(completion.usage !== undefined && completion.usage.total_tokens > 0);
			const seen = upstream.requests.at(-1);
			assert.equal(seen?.headers.authorization, `Bearer ${OPENAI_KEY}`, "the provider's key, never the client's, goes upstream");
		});

		it("streams chat completions, with the final usage chunk of stream_options.include_usage", async () => {
			const stream = await openai.chat.completions.create({
				model: "gpt-test",
				messages: [{ role: "user", content: "hi" }],
				stream: true,
				stream_options: { include_usage: true },
			});
			let text = "";
			let last: Json;
			for await (const chunk of stream) {
				text += chunk.choices[0]?.delta?.content ?? "";
				last = chunk;
			}
			assert.ok(text.length > 0);
			assert.deepEqual(last.choices, []);
			assert.ok(last.usage.total_tokens > 0);
		});

		it("embeddings: the SDK's default base64 encoding comes back and decodes", async () => {
			const result = await openai.embeddings.create({ model: "embed-test", input: ["a", "b"] });
			assert.equal(result.data.length, 2);
			assert.ok(Array.isArray(result.data[0].embedding) && result.data[0].embedding.length > 0);
			assert.equal(typeof result.data[0].embedding[0], "number");
			assert.equal(upstream.requests.at(-1)?.body?.encoding_format, "base64");
		});

		it("lists the models a key may use", async () => {
			const all = (await openai.models.list()).data.map((m) => m.id);
			assert.ok(all.includes("gpt-test") && all.includes("claude-test"));
			const limited = new OpenAI({ baseURL: `${service.url}/v1`, apiKey: LIMITED_KEY, maxRetries: 0 });
			assert.deepEqual(
				(await limited.models.list()).data.map((m) => m.id),
				["gpt-test"],
			);
		});

		it("falls back to another model when every deployment fails before the first byte", async () => {
			const before = upstream.hits("error-500");
			const completion = await openai.chat.completions.create({ model: "flaky", messages: [{ role: "user", content: "hi" }] });
			assert.ok((completion.choices[0].message.content ?? "").length > 0);
			assert.ok(upstream.hits("error-500") > before, "the failing deployment was tried first");
		});

		it("a stream the upstream cuts after the first byte ends with an error the SDK raises, never a clean end", async () => {
			const stream = await openai.chat.completions.create({ model: "cut-stream", messages: [{ role: "user", content: "hi" }], stream: true });
			let chunks = 0;
			await assert.rejects(async () => {
				for await (const _ of stream) chunks++;
			}, /cut|stream/i);
			assert.ok(chunks >= 1, "the first chunks arrived before the cut");
		});

		it("a caller that goes away mid-stream aborts the upstream request", async () => {
			upstream.script("slow-stream", { kind: "ok", chunks: 200, delayMs: 20 });
			const abortedBefore = upstream.aborted;
			const controller = new AbortController();
			const stream = await openai.chat.completions.create(
				{ model: "slow-stream", messages: [{ role: "user", content: "hi" }], stream: true },
				{ signal: controller.signal },
			);
			let chunks = 0;
			try {
				for await (const _ of stream) if (++chunks === 3) controller.abort();
			} catch (error) {
				assert.equal((error as Error).name, "APIUserAbortError");
			}
			assert.ok(chunks < 200, "the stream stopped early");
			const until = Date.now() + 3_000;
			while (upstream.aborted === abortedBefore && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
			assert.equal(upstream.aborted, abortedBefore + 1, "the upstream saw its client go away");
		});
	});

	describe("backpressure", () => {
		it("a caller that reads slowly slows the upstream down instead of the gateway buffering the stream", async () => {
			upstream.script("big-stream", { kind: "ok", chunks: 400, padding: 16_000 });
			const drainsBefore = upstream.drainWaits;
			const response = await fetch(`${service.url}/v1/chat/completions`, {
				method: "POST",
				headers: { authorization: `Bearer ${TEAM_KEY}`, "content-type": "application/json" },
				body: JSON.stringify({ model: "big-stream", messages: [{ role: "user", content: "hi" }], stream: true }),
			});
			const reader = (response.body as ReadableStream<Uint8Array>).getReader();
			await reader.read();
			// Nobody reads for a while: the socket buffers fill, the gateway stops reading, and the upstream has to wait for drain.
			const until = Date.now() + 5_000;
			while (upstream.drainWaits === drainsBefore && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
			assert.ok(upstream.drainWaits > drainsBefore, "the upstream waited for drain");
			let bytes = 0;
			for (;;) {
				const { done, value } = await reader.read();
				if (done) break;
				bytes += value.byteLength;
			}
			assert.ok(bytes > 400 * 16_000, `the whole stream arrived in the end (${bytes} bytes)`);
		});
	});

	describe("Anthropic-compatible", () => {
		it("answers messages whole", async () => {
			const message = await anthropic.messages.create({ model: "claude-test", max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
			assert.equal(message.type, "message");
			assert.equal(message.content[0].type, "text");
			assert.ok(message.usage.output_tokens > 0);
		});

		it("streams messages with cumulative usage in message_delta", async () => {
			const stream = anthropic.messages.stream({ model: "claude-test", max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
			let text = "";
			stream.on("text", (t) => (text += t));
			const final = await stream.finalMessage();
			assert.ok(text.length > 0);
			assert.ok(final.usage.output_tokens > 0);
		});

		it("a cut stream ends with an error event the SDK raises", async () => {
			const stream = anthropic.messages.stream({ model: "claude-cut", max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
			await assert.rejects(() => stream.finalMessage());
		});

		it("with x-api-key as other Anthropic clients send it", async () => {
			const response = await fetch(`${service.url}/v1/messages`, {
				method: "POST",
				headers: { "x-api-key": TEAM_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json" },
				body: JSON.stringify({ model: "claude-test", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }),
			});
			assert.equal(response.status, 200);
		});
	});

	describe("client keys", () => {
		it("never runs open: no key or an unknown key is a 401 in the caller's format", async () => {
			const stranger = new OpenAI({ baseURL: `${service.url}/v1`, apiKey: "sk-not-issued-0123456789", maxRetries: 0 });
			await assert.rejects(stranger.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] }), (e: Json) => {
				assert.equal(e.status, 401);
				assert.equal(e.error?.code ?? e.code, "invalid_api_key");
				return true;
			});
			const response = await fetch(`${service.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
			assert.equal(response.status, 401);
			assert.equal(((await response.json()) as Json).error.type, "authentication_error");
		});

		it("a key's model allow-list is enforced (403)", async () => {
			const limited = new Anthropic({ baseURL: service.url, apiKey: LIMITED_KEY, maxRetries: 0 });
			await assert.rejects(limited.messages.create({ model: "claude-test", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }), (e: Json) => {
				assert.equal(e.status, 403);
				return true;
			});
		});

		it("a key over its requests per minute gets a 429 with Retry-After", async () => {
			const limited = new OpenAI({ baseURL: `${service.url}/v1`, apiKey: LIMITED_KEY, maxRetries: 0 });
			const call = () => limited.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] });
			await call();
			await call();
			await assert.rejects(call(), (e: Json) => {
				assert.equal(e.status, 429);
				assert.ok(Number(e.headers.get("retry-after")) >= 1);
				return true;
			});
		});

		it("a key over its tokens per minute gets a 429 once the provider's reported usage has spent it", async () => {
			const frugal = new OpenAI({ baseURL: `${service.url}/v1`, apiKey: FRUGAL_KEY, maxRetries: 0 });
			const first = await frugal.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] });
			assert.ok((first.usage?.total_tokens ?? 0) > 10, "the first call spends more than the budget of 10");
			// The key is charged when the forward's usage promise settles, after the answer went out: wait for that charge.
			await charged("frugal");
			await assert.rejects(frugal.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] }), (e: Json) => {
				assert.equal(e.status, 429);
				assert.match(e.message, /tokens per minute/);
				return true;
			});
		});

		it("a stream without include_usage is charged too, and its caller sees no usage chunk it did not ask for", async () => {
			const post = () =>
				fetch(`${service.url}/v1/chat/completions`, {
					method: "POST",
					headers: { authorization: `Bearer ${STREAMER_KEY}`, "content-type": "application/json" },
					body: JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "hi" }], stream: true }),
				});
			const first = await post();
			assert.equal(first.status, 200);
			const text = await first.text();
			const seen = upstream.requests.at(-1);
			assert.deepEqual(seen?.body?.stream_options, { include_usage: true }, "the gateway asked the upstream for the usage");
			const chunks = text
				.split("\n\n")
				.filter((f) => f.startsWith("data: ") && f !== "data: [DONE]")
				.map((f) => JSON.parse(f.slice(6)) as Json);
			assert.ok(chunks.length > 0, text);
			assert.ok(text.trimEnd().endsWith("data: [DONE]"), text);
			for (const chunk of chunks) {
				assert.equal(chunk.usage, undefined, `no usage reaches the caller: ${JSON.stringify(chunk)}`);
				assert.ok(chunk.choices.length > 0, `no chunk without choices: ${JSON.stringify(chunk)}`);
			}
			await charged("streamer");
			const second = await post();
			assert.equal(second.status, 429, "the streamed tokens spent the budget of 10");
			assert.match(await second.text(), /tokens per minute/);
		});

		it("an OpenAI stream from an Anthropic deployment without include_usage shows no usage chunk either", async () => {
			const response = await fetch(`${service.url}/v1/chat/completions`, {
				method: "POST",
				headers: { authorization: `Bearer ${TEAM_KEY}`, "content-type": "application/json" },
				body: JSON.stringify({ model: "claude-test", max_tokens: 20, messages: [{ role: "user", content: "hi" }], stream: true }),
			});
			assert.equal(response.status, 200);
			const text = await response.text();
			const chunks = text
				.split("\n\n")
				.filter((f) => f.startsWith("data: ") && f !== "data: [DONE]")
				.map((f) => JSON.parse(f.slice(6)) as Json);
			assert.ok(chunks.length > 0 && text.trimEnd().endsWith("data: [DONE]"), text);
			for (const chunk of chunks) assert.ok(chunk.usage == null && chunk.choices.length > 0, JSON.stringify(chunk));
		});

		/** Posts `body` as it is to the chat route; `seen` is the request the upstream got for it. */
		const send = async (body: string | Buffer) => {
			const response = await fetch(`${service.url}/v1/chat/completions`, {
				method: "POST",
				headers: { authorization: `Bearer ${TEAM_KEY}`, "content-type": "application/json" },
				body,
			});
			const text = await response.text();
			const seen = upstream.requests.at(-1) as { body: Json; bytes: Buffer };
			return { status: response.status, type: String(response.headers.get("content-type")), text, seen };
		};

		it("sends the caller's bytes on unchanged, unless the upstream could read another body in them than the gateway checked", async () => {
			// Spaces JSON.stringify would not write tell the caller's bytes from a re-serialisation; the
			// word "model" in a message is no duplicate key.
			const spaced = '{ "model": "gpt-test", "messages": [ { "role": "user", "content": "which \\"model\\": are you?" } ], "stream": false }';
			const plain = await send(spaced);
			assert.equal(plain.status, 200, plain.text);
			assert.equal(plain.seen.bytes.toString("utf8"), spaced, "passed on as sent");
			// Each of these reads otherwise to a parser that keeps the first of duplicate keys, or to one
			// that does not decode escapes in keys: the parsed body goes instead, with each key once.
			for (const twice of [
				'{ "model": "claude-test", "model": "gpt-test", "messages": [ { "role": "user", "content": "hi" } ] }',
				'{ "mod\\u0065l": "claude-test", "model": "gpt-test", "messages": [ { "role": "user", "content": "hi" } ] }',
				'{ "model": "gpt-test", "messages": [ { "role": "user", "content": "hi" } ], "max_tokens": 1, "max_tokens": 5 }',
				'{ "mod\\u0065l": "gpt-test", "messages": [ { "role": "user", "content": "hi" } ] }',
			]) {
				const { status, text, seen } = await send(twice);
				assert.equal(status, 200, text);
				assert.equal(seen.bytes.toString("utf8"), JSON.stringify(JSON.parse(twice)), `re-serialised: ${twice}`);
				assert.equal(seen.body.model, "gpt-test");
			}
		});

		it("a stream without stream_options goes on as the caller's bytes with include_usage appended, not serialised again", async () => {
			const spaced = '{ "model": "gpt-test", "messages": [ { "role": "user", "content": "hi" } ], "stream": true, "max_tokens": 1.0 }\n';
			const { status, text, seen } = await send(spaced);
			assert.equal(status, 200, text);
			assert.equal(
				seen.bytes.toString("utf8"),
				`${spaced.trimEnd().slice(0, -1)},"stream_options":{"include_usage":true}}`,
				"the caller's bytes, one key added",
			);
			assert.deepEqual(seen.body.stream_options, { include_usage: true });
			// The caller still sees no usage chunk it did not ask for.
			assert.ok(!text.includes('"choices":[]'), text);
			assert.ok(text.trimEnd().endsWith("data: [DONE]"), text);
		});

		it("a duplicate stream key cannot make the upstream stream while the gateway reads a JSON answer (or the reverse)", async () => {
			for (const [twice, streams] of [
				['{"model":"gpt-test","stream":true,"stream":false,"messages":[{"role":"user","content":"hi"}]}', false],
				['{"model":"gpt-test","stream":false,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}', true],
			] as const) {
				const { status, type, text, seen } = await send(twice);
				assert.equal(status, 200, text);
				// The upstream gets the gateway's reading, whatever it does with duplicates: stream once, the last value.
				assert.equal(seen.bytes.toString("utf8"), JSON.stringify(JSON.parse(twice)), `re-serialised: ${twice}`);
				assert.equal(type.includes("text/event-stream"), streams, `${twice}: ${type}`);
				if (!streams) assert.ok(((JSON.parse(text) as Json).usage?.total_tokens ?? 0) > 0, "a JSON answer, with the usage a token budget is charged with");
			}
		});

		it("bytes that are not UTF-8 go upstream as the text the gateway checked, not as they came", async () => {
			// 0xff and a lone continuation byte: the gateway decodes each to U+FFFD before it parses.
			const bytes = Buffer.concat([
				Buffer.from('{"model":"gpt-test","messages":[{"role":"user","content":"hi '),
				Buffer.from([0xff, 0x80]),
				Buffer.from('"}]}'),
			]);
			const { status, text, seen } = await send(bytes);
			assert.equal(status, 200, text);
			assert.ok(!seen.bytes.equals(bytes), "not the caller's bytes");
			assert.deepEqual(seen.bytes, Buffer.from(JSON.stringify(JSON.parse(bytes.toString("utf8")))));
			assert.equal(seen.body.messages[0].content, "hi \ufffd\ufffd");
		});

		it("a bad body is a 400 in the caller's format naming the field", async () => {
			const response = await fetch(`${service.url}/v1/chat/completions`, {
				method: "POST",
				headers: { authorization: `Bearer ${TEAM_KEY}`, "content-type": "application/json" },
				body: JSON.stringify({ model: "gpt-test" }),
			});
			assert.equal(response.status, 400);
			const body = (await response.json()) as Json;
			assert.match(body.error.message, /body\/messages is required/);
			assert.equal(body.error.type, "invalid_request_error");
		});
	});

	describe("usage and provider state", () => {
		it("counts usage per client key and model, and shows each provider's deployments with their breakers", async () => {
			const providers = await service.request("GET", "/health/providers");
			assert.equal(providers.status, 200);
			const usage = providers.body.usage as Json[];
			const team = usage.find((r) => r.clientKey === "team-a" && r.model === "gpt-test");
			assert.ok(team.requests >= 2 && team.promptTokens > 0 && team.completionTokens > 0, JSON.stringify(team));
			const limited = usage.find((r) => r.clientKey === "limited" && r.model === "gpt-test");
			assert.ok(limited.errors >= 1, "the rate-limited call counts as an error");
			const deployments = providers.body.providers[0].deployments as Json[];
			for (const d of deployments) assert.equal(d.inFlight, 0, `${d.label}: nothing left in flight after cut, aborted and refused requests`);
			const flaky = deployments.find((d) => d.model === "error-500");
			assert.equal(flaky.breaker.state, "open", "the failing deployment cools down");
			const text = JSON.stringify(providers.body) + service.stdout() + service.stderr();
			for (const secret of [OPENAI_KEY, ANTHROPIC_KEY, TEAM_KEY, LIMITED_KEY]) assert.ok(!text.includes(secret), "no key in any response or log");
		});

		it("/metrics has the usage per client key and model next to the pools' metrics", async () => {
			// The config opened /metrics: a scraper needs no token.
			const response = await fetch(`${service.url}/metrics`);
			assert.equal(response.status, 200);
			const text = await response.text();
			const requests = /^lifeguard_llm_requests_total\{client_key="team-a",model="gpt-test"\} (\d+)$/m.exec(text);
			assert.ok(requests !== null && Number(requests[1]) >= 2, text.slice(0, 2000));
			assert.match(text, /^lifeguard_llm_tokens_total\{client_key="team-a",model="gpt-test",type="completion"\} [1-9]\d*$/m);
			assert.match(text, /^connection_pool_size\{.*state="active".*\} \d+$/m);
			assert.ok(!text.includes(OPENAI_KEY) && !text.includes(TEAM_KEY));
		});

		it("/health/providers and the admin API still need the admin token when /metrics is public", async () => {
			assert.equal((await fetch(`${service.url}/health/providers`)).status, 401);
			assert.equal((await fetch(`${service.url}/api/v1/admin/connection-pools`)).status, 401);
		});
	});
});
