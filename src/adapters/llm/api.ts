/**
 * The four APIs the LLM client speaks, named `<format>.<endpoint>`, and what each needs on the
 * wire: its path under the provider's base URL, its wire format, and whether it streams.
 */
export const LlmApi = {
	openaiChat: "openai.chat",
	openaiCompletions: "openai.completions",
	openaiEmbeddings: "openai.embeddings",
	anthropicMessages: "anthropic.messages",
} as const;
export type LlmApi = (typeof LlmApi)[keyof typeof LlmApi];

/** The two wire formats: OpenAI's (and every compatible server's) and Anthropic's. */
export type WireFormat = "openai" | "anthropic";

const APIS = new Set<string>(Object.values(LlmApi));

export function isLlmApi(value: unknown): value is LlmApi {
	return typeof value === "string" && APIS.has(value);
}

export function formatOf(api: LlmApi): WireFormat {
	return api === LlmApi.anthropicMessages ? "anthropic" : "openai";
}

/** The path of an API under a provider's base path (`/v1`). */
export function endpointOf(api: LlmApi): string {
	switch (api) {
		case LlmApi.openaiChat:
			return "/chat/completions";
		case LlmApi.openaiCompletions:
			return "/completions";
		case LlmApi.openaiEmbeddings:
			return "/embeddings";
		case LlmApi.anthropicMessages:
			return "/messages";
	}
}

/** Embeddings never stream; the others do when the body says `stream: true`. */
export function streams(api: LlmApi, body: Record<string, unknown>): boolean {
	return api !== LlmApi.openaiEmbeddings && body.stream === true;
}

const PATHS: Record<string, LlmApi> = {
	"/v1/chat/completions": LlmApi.openaiChat,
	"/v1/completions": LlmApi.openaiCompletions,
	"/v1/embeddings": LlmApi.openaiEmbeddings,
	"/v1/messages": LlmApi.anthropicMessages,
};

/** The API a gateway route serves (`/v1/chat/completions` → `openai.chat`), query and trailing slash ignored; undefined for others. */
export function apiForPath(path: string): LlmApi | undefined {
	const bare = path.split("?")[0].replace(/\/+$/, "");
	return PATHS[bare];
}
