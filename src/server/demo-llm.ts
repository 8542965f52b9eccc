/**
 * The embedded default's demo LLM provider: a node:http server in this process that answers the
 * OpenAI chat-completions and Anthropic messages wire formats (whole and SSE) with a canned
 * answer, so that the gateway, `/health/providers` and the dashboard's LLM usage have something
 * live without an API key. Not a model: it repeats a sentence.
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";

const WORDS = "Lifeguard pooled this answer from a demo upstream inside the service.".split(" ");

function usageOf(body: Record<string, unknown>): { prompt: number; completion: number } {
	return { prompt: Math.max(1, Math.ceil(JSON.stringify(body.messages ?? "").length / 4)), completion: WORDS.length };
}

function json(res: http.ServerResponse, body: Record<string, unknown>): void {
	res.writeHead(200, { "content-type": "application/json" });
	res.end(JSON.stringify(body));
}

function sse(res: http.ServerResponse, frames: string[]): void {
	res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
	let i = 0;
	const timer = setInterval(() => {
		if (res.destroyed || i >= frames.length) {
			clearInterval(timer);
			res.end();
			return;
		}
		res.write(frames[i++]);
	}, 15);
	res.on("close", () => clearInterval(timer));
}

function openAiChat(body: Record<string, unknown>, res: http.ServerResponse): void {
	const id = `chatcmpl-demo-${Date.now()}`;
	const model = String(body.model);
	const { prompt, completion } = usageOf(body);
	const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
	if (body.stream !== true) {
		json(res, {
			id,
			object: "chat.completion",
			created: Math.floor(Date.now() / 1000),
			model,
			choices: [{ index: 0, message: { role: "assistant", content: WORDS.join(" ") }, finish_reason: "stop" }],
			usage,
		});
		return;
	}
	const frame = (rest: Record<string, unknown>) =>
		`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model, ...rest })}\n\n`;
	const chunk = (delta: Record<string, unknown>, finish: string | null) => frame({ choices: [{ index: 0, delta, finish_reason: finish }] });
	const frames = [chunk({ role: "assistant", content: "" }, null), ...WORDS.map((w, i) => chunk({ content: i === 0 ? w : ` ${w}` }, null)), chunk({}, "stop")];
	if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true) {
		frames.push(frame({ choices: [], usage }));
	}
	frames.push("data: [DONE]\n\n");
	sse(res, frames);
}

function anthropicMessages(body: Record<string, unknown>, res: http.ServerResponse): void {
	const id = `msg_demo_${Date.now()}`;
	const model = String(body.model);
	const { prompt, completion } = usageOf(body);
	if (body.stream !== true) {
		json(res, {
			id,
			type: "message",
			role: "assistant",
			model,
			content: [{ type: "text", text: WORDS.join(" ") }],
			stop_reason: "end_turn",
			stop_sequence: null,
			usage: { input_tokens: prompt, output_tokens: completion },
		});
		return;
	}
	const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
	sse(res, [
		event("message_start", {
			message: {
				id,
				type: "message",
				role: "assistant",
				model,
				content: [],
				stop_reason: null,
				stop_sequence: null,
				usage: { input_tokens: prompt, output_tokens: 1 },
			},
		}),
		event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
		...WORDS.map((w, i) => event("content_block_delta", { index: 0, delta: { type: "text_delta", text: i === 0 ? w : ` ${w}` } })),
		event("content_block_stop", { index: 0 }),
		event("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: completion } }),
		event("message_stop", {}),
	]);
}

export interface DemoLlm {
	/** `http://127.0.0.1:<port>/v1` */
	readonly baseUrl: string;
	close(): Promise<void>;
}

export async function startDemoLlm(): Promise<DemoLlm> {
	const server = http.createServer(async (req, res) => {
		const chunks: Buffer[] = [];
		for await (const c of req) chunks.push(c as Buffer);
		let body: Record<string, unknown> = {};
		try {
			body = chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString("utf8"));
		} catch {
			res.writeHead(400, { "content-type": "application/json" });
			res.end(JSON.stringify({ error: { message: "not JSON", type: "invalid_request_error", param: null, code: null } }));
			return;
		}
		const path = (req.url ?? "/").split("?", 1)[0];
		if (req.method === "POST" && path === "/v1/chat/completions") return openAiChat(body, res);
		if (req.method === "POST" && path === "/v1/messages") return anthropicMessages(body, res);
		res.writeHead(404, { "content-type": "application/json" });
		res.end(JSON.stringify({ error: { message: `the demo upstream has no ${req.method} ${path}`, type: "invalid_request_error", param: null, code: null } }));
	});
	server.listen(0, "127.0.0.1");
	await once(server, "listening");
	server.unref();
	const { port } = server.address() as AddressInfo;
	return {
		baseUrl: `http://127.0.0.1:${port}/v1`,
		async close() {
			server.closeAllConnections();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}
