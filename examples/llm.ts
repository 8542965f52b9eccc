/**
 * Pooled LLM clients: two deployments of one model with least-busy routing, a fallback to another
 * provider, typed streams in both wire formats, chat across formats, typed errors, seed 000's `execute`, and
 * `forward()` as a gateway uses it (bytes unchanged; a cut stream ends in an error event).
 * Run: npx node examples/llm.ts
 * It starts a local stand-in for the providers (real SSE on node:http) so it needs no key; for the
 * real services drop `baseUrl` and give `apiKey: process.env.OPENAI_API_KEY` and so on.
 */
import { createLlmClient, LlmError, LlmErrorCode } from "../src/adapters/llm/index.ts";
import { startLlmUpstream } from "../test/llm/servers/llm-upstream.ts";

const upstream = await startLlmUpstream();
upstream.script("gpt-4o-mini", { kind: "ok", text: "Hello ", chunks: 3 });
const base = `${upstream.origin}/v1`;

const llm = createLlmClient({
	name: "assistant",
	providers: {
		// Per-provider tuning: slots (concurrent requests) per deployment, timeouts, RPM/TPM.
		openai: { preset: "openai", baseUrl: base, apiKey: "sk-example-not-a-real-key", maxConcurrent: 32, rpm: 500, tpm: 200_000 },
		azure: { preset: "openai-compatible", baseUrl: base, apiKey: "azure-example-key", headersTimeoutMs: 120_000 },
		groq: { preset: "groq", baseUrl: base, apiKey: "gsk-example-key" },
		anthropic: { preset: "anthropic", baseUrl: base, apiKey: "sk-ant-example-key", cooldownMs: 10_000 },
	},
	models: {
		// Two deployments of one model: each request goes to the one with fewer requests in flight.
		"gpt-4o-mini": { deployments: [{ provider: "openai" }, { provider: "azure" }], fallbacks: ["llama"] },
		// A fallback speaks the same wire format (responses are passed through, not translated).
		llama: [{ provider: "groq", model: "llama-3.3-70b-versatile" }],
		// error-529 makes the stand-in answer "overloaded": the request falls back before the first byte.
		flaky: { deployments: [{ provider: "openai", model: "error-529" }], fallbacks: ["gpt-4o-mini"] },
		claude: [{ provider: "anthropic", model: "claude-sonnet-4-5" }],
		// cut-stream… makes the stand-in cut the stream after two chunks.
		"broken-stream": [{ provider: "openai", model: "cut-stream-a" }],
		"broken-forward": [{ provider: "openai", model: "cut-stream-b" }],
	},
	onUsage: (r) =>
		console.log(`  usage: ${r.deployment} ${r.usage?.promptTokens ?? "?"}+${r.usage?.completionTokens ?? "?"} tokens${r.error ? ` (${r.error})` : ""}`),
});

try {
	const answer = await llm.chat({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello" }] });
	console.log("chat:", answer.choices[0].message.content);

	// A typed stream: chunks as they arrive, usage at the end (OpenAI needs include_usage for it).
	const stream = await llm.chatStream({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Stream it" }], stream_options: { include_usage: true } });
	let text = "";
	for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
	console.log(`stream from ${stream.deployment}: "${text}", usage`, stream.usage);

	const claude = await llm.messagesStream({ model: "claude", max_tokens: 64, messages: [{ role: "user", content: "Hi" }] });
	console.log("anthropic stream:", await claude.text());
	// An OpenAI-shaped chat request to the Anthropic model: translated both ways.
	const translated = await llm.chat({
		model: "claude",
		messages: [
			{ role: "system", content: "Be brief" },
			{ role: "user", content: "Hi" },
		],
	});
	console.log("openai chat on claude:", translated.object, translated.choices[0].message.content);

	// The overloaded deployment is cooled down and the fallback answers; nothing reached the caller before.
	const fallback = await llm.chat({ model: "flaky", messages: [{ role: "user", content: "Hi" }] });
	console.log(
		"flaky answered by:",
		fallback.model,
		"| breakers:",
		llm
			.breakers()
			.map((b) => `${b.label}=${b.state}`)
			.join(", "),
	);

	// Seed 000's shape.
	const done = await llm.execute("complete", { model: "gpt-4o-mini", prompt: "Write a haiku", max_tokens: 20 });
	console.log('execute("complete"):', done.text, "via", done.deployment);
	{
		await using connection = await llm.getConnection("claude");
		const reply = await connection.execute("chat", { messages: [{ role: "user", content: "Hi" }] });
		console.log('connection.execute("chat"):', reply.text);
	}

	// A stream cut after the first byte is a typed error, never a silent end…
	try {
		await (await llm.chatStream({ model: "broken-stream", messages: [{ role: "user", content: "Hi" }] })).text();
	} catch (error) {
		if (error instanceof LlmError && error.code === LlmErrorCode.STREAM_CUT) console.log("cut stream:", error.code);
		else throw error;
	}
	// …and through forward() (what a gateway pipes to its client) it ends with an error event in the caller's format.
	const forwarded = await llm.forward({ api: "openai.chat", body: { model: "broken-forward", messages: [], stream: true } });
	let sse = "";
	for await (const chunk of forwarded.body) sse += Buffer.from(chunk).toString();
	console.log(`forward(): ${forwarded.status} from ${forwarded.deployment}, last event:`, sse.trimEnd().split("\n\n").at(-1));

	console.log(
		"pools:",
		llm
			.pools()
			.map((p) => `${p.label} (${p.pool.stats().total} open)`)
			.join(", "),
	);
} finally {
	await llm.close();
	await upstream.close();
}
