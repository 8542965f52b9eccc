/** Helpers for the LLM tests: clients pointed at the local upstreams in servers/. */
import { createLlmClient, type LlmClient, type LlmClientOptions } from "../../src/adapters/llm/index.ts";
import type { LlmUpstream } from "./servers/llm-upstream.ts";

export const OPENAI_KEY = "sk-test-openai-0123456789abcdef";
export const ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef";

/** A client with one OpenAI-compatible provider (`local`) and one Anthropic provider (`claude`) on `upstream`. */
export function clientFor(upstream: LlmUpstream, models: LlmClientOptions["models"], extra: Partial<LlmClientOptions> = {}): LlmClient {
	return createLlmClient({
		name: "llm-test",
		providers: {
			local: { preset: "openai-compatible", baseUrl: `${upstream.origin}/v1`, apiKey: OPENAI_KEY },
			claude: { preset: "anthropic", baseUrl: `${upstream.origin}/v1`, apiKey: ANTHROPIC_KEY },
			...extra.providers,
		},
		...extra,
		models,
	} as LlmClientOptions);
}

export async function collect(body: AsyncIterable<Uint8Array>): Promise<string> {
	let out = "";
	for await (const chunk of body) out += Buffer.from(chunk).toString("utf8");
	return out;
}

export function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
	const until = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > until) throw new Error("condition not met in time");
		await sleep(5);
	}
}

export const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: "user" as const, content: "hello" }], ...extra });
export const message = (model: string, extra: Record<string, unknown> = {}) => ({
	model,
	max_tokens: 64,
	messages: [{ role: "user" as const, content: "hello" }],
	...extra,
});
