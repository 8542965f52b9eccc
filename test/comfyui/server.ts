/**
 * A ComfyUI test server speaking the real protocol (server.py / execution.py / main.py's
 * prompt worker) on node:http + ws, for the ComfyUI tests and any other helper's: every route
 * also under /api, prompts executed one at a time, per-prompt events only to the socket whose
 * clientId matches, history written after execution_success and `executing {node: null}` last,
 * no heartbeat from the server. Faults are switches on `faults`; the traps of the real server
 * are kept (see the comments at each).
 *
 * Workflows: nodes `{ class_type, inputs }` keyed by id. Known classes: CheckpointLoaderSimple,
 * CLIPTextEncode, EmptyLatentImage, KSampler (progress steps = inputs.steps, default 4),
 * VAEDecode, LoadImage (inputs.image must be an uploaded file), SaveImage and PreviewImage
 * (outputs), Fail (raises at execution), Sleep (inputs.ms of silent work).
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

export interface ComfyServerFaults {
	/** Milliseconds per KSampler step (progress events come this often). Default 10. */
	stepMs: number;
	/** Milliseconds per node that has no steps. Default 2. */
	nodeMs: number;
	/** Send a binary preview frame with each progress step (ComfyUI with previews on). Default true. */
	previews: boolean;
	/** /system_stats answers 500. */
	failHealth: boolean;
	/** Accept prompts but never start them (a stuck worker). */
	neverStart: boolean;
	/** Start prompts, then go silent: no more events, no history (a hung node). */
	hangAfterStart: boolean;
	/** Run prompts but send no WebSocket events for them (completion events lost); history still written. */
	dropEvents: boolean;
	/** Reply to POST /prompt only after the prompt's first events went out (the real race). Default true. */
	eventsBeforeReply: boolean;
	/** Every POST /prompt fails with 500. */
	failPrompts: boolean;
	/** When set, every request and upgrade must carry this Authorization header (401 otherwise). */
	authorization: string | undefined;
}

export interface QueuedPrompt {
	number: number;
	promptId: string;
	prompt: Record<string, Node>;
	clientId: string | undefined;
}

interface Node {
	class_type: string;
	inputs?: Record<string, unknown>;
}

const KNOWN = new Set([
	"CheckpointLoaderSimple",
	"CLIPTextEncode",
	"EmptyLatentImage",
	"KSampler",
	"VAEDecode",
	"LoadImage",
	"SaveImage",
	"PreviewImage",
	"Fail",
	"Sleep",
]);
const OUTPUT_NODES = new Set(["SaveImage", "PreviewImage"]);

/** A tiny valid PNG (1×1) with the prompt id appended after IEND, so each image's bytes are its own. */
export function fakePng(tag: string): Buffer {
	const png = Buffer.from(
		"89504e470d0a1a0a0000000d4948445200000001000000010806000000" + "1f15c4890000000d49444154789c6300010000050001" + "0d0a2db40000000049454e44ae426082",
		"hex",
	);
	return Buffer.concat([png, Buffer.from(tag)]);
}

export class ComfyServer {
	readonly faults: ComfyServerFaults = {
		stepMs: 10,
		nodeMs: 2,
		previews: true,
		failHealth: false,
		neverStart: false,
		hangAfterStart: false,
		dropEvents: false,
		eventsBeforeReply: true,
		failPrompts: false,
		authorization: undefined,
	};
	port = 0;
	/** What arrived, for assertions. */
	readonly log = {
		unauthorized: 0,
		prompts: 0,
		deleted: [] as string[],
		interrupts: [] as (string | undefined)[],
		uploads: [] as string[],
		healthChecks: 0,
		sockets: 0,
	};
	readonly #http: http.Server;
	readonly #wss = new WebSocketServer({ noServer: true });
	/** clientId → socket. A second socket with the same id replaces the first in this map (the first goes deaf). */
	readonly #sockets = new Map<string, WebSocket>();
	readonly #all = new Set<WebSocket>();
	readonly #pending: QueuedPrompt[] = [];
	#running: (QueuedPrompt & { interrupted: boolean; node: string | undefined }) | undefined;
	readonly #history = new Map<string, unknown>();
	readonly #files = new Map<string, Buffer>();
	readonly #uploads = new Set<string>();
	#number = 0;
	#working = false;
	#alive = true;
	/** Prompts run to completion (success or error), for throughput checks. */
	completed = 0;

	constructor(faults: Partial<ComfyServerFaults> = {}) {
		Object.assign(this.faults, faults);
		this.#http = http.createServer((req, res) => {
			this.#route(req, res).catch((error: unknown) => {
				if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
				res.end(JSON.stringify({ error: String(error) }));
			});
		});
		this.#http.on("upgrade", (req, socket, head) => {
			socket.on("error", () => {});
			if (this.faults.authorization !== undefined && req.headers.authorization !== this.faults.authorization) {
				this.log.unauthorized++;
				return void socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
			}
			const url = new URL(req.url ?? "/", "http://x");
			if (url.pathname !== "/ws" && url.pathname !== "/api/ws") return void socket.destroy();
			this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onSocket(ws, url.searchParams.get("clientId") ?? undefined));
		});
	}

	static async start(faults: Partial<ComfyServerFaults> = {}, port = 0): Promise<ComfyServer> {
		const server = new ComfyServer(faults);
		await new Promise<void>((resolve) => server.#http.listen(port, "127.0.0.1", resolve));
		server.port = (server.#http.address() as AddressInfo).port;
		return server;
	}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	get queueRemaining(): number {
		return this.#pending.length + (this.#running === undefined ? 0 : 1);
	}

	/** Sockets open now. */
	get openSockets(): number {
		return this.#all.size;
	}

	/** Cuts every socket (no close frame) but keeps serving: the client must reconnect. */
	dropSockets(): void {
		for (const ws of this.#all) ws.terminate();
	}

	/** The instance dies: every connection cut, the port closed, running work lost. */
	async kill(): Promise<void> {
		this.#alive = false;
		for (const ws of this.#all) ws.terminate();
		this.#http.closeAllConnections();
		await new Promise<void>((resolve) => this.#http.close(() => resolve()));
	}

	/** A killed instance comes back on the same port, with an empty queue. */
	async revive(): Promise<void> {
		this.#pending.splice(0);
		this.#alive = true;
		await new Promise<void>((resolve) => this.#http.listen(this.port, "127.0.0.1", resolve));
	}

	async close(): Promise<void> {
		if (this.#alive) await this.kill();
	}

	[Symbol.asyncDispose](): Promise<void> {
		return this.close();
	}

	// ── HTTP ─────────────────────────────────────────────────────────────────────────────────

	async #route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		const url = new URL(req.url ?? "/", "http://x");
		const path = url.pathname.startsWith("/api/") ? url.pathname.slice(4) : url.pathname;
		const method = req.method ?? "GET";
		if (this.faults.authorization !== undefined && req.headers.authorization !== this.faults.authorization) {
			this.log.unauthorized++;
			return json(res, 401, { error: "unauthorized" });
		}
		if (method === "GET" && path === "/system_stats") return this.#systemStats(res);
		if (method === "POST" && path === "/prompt") return this.#postPrompt(await readJson(req), res);
		if (method === "GET" && path === "/prompt") return json(res, 200, { exec_info: { queue_remaining: this.queueRemaining } });
		if (method === "GET" && path === "/queue") return json(res, 200, this.#queue());
		if (method === "POST" && path === "/queue") return this.#postQueue(await readJson(req), res);
		if (method === "POST" && path === "/interrupt") return this.#interrupt(await readJson(req).catch(() => ({})), res);
		if (method === "GET" && path.startsWith("/history/")) {
			const id = decodeURIComponent(path.slice("/history/".length));
			const entry = this.#history.get(id);
			return json(res, 200, entry === undefined ? {} : { [id]: entry });
		}
		if (method === "GET" && path === "/view") return this.#view(url, res);
		if (method === "POST" && path === "/upload/image") return this.#upload(req, res);
		json(res, 404, { error: "not found" });
	}

	#systemStats(res: http.ServerResponse): void {
		this.log.healthChecks++;
		if (this.faults.failHealth) return json(res, 500, { error: "CUDA error: device-side assert triggered" });
		const gib = 1024 ** 3;
		json(res, 200, {
			system: { os: "posix", ram_total: 32 * gib, ram_free: 20 * gib, comfyui_version: "0.3.test", python_version: "3.12", embedded_python: false },
			devices: [
				{
					name: "cuda:0 Test GPU",
					type: "cuda",
					index: 0,
					vram_total: 24 * gib,
					vram_free: (24 - this.queueRemaining) * gib,
					torch_vram_total: 0,
					torch_vram_free: 0,
				},
			],
		});
	}

	#postPrompt(body: Record<string, unknown>, res: http.ServerResponse): void {
		this.log.prompts++;
		if (this.faults.failPrompts) return json(res, 500, { error: "internal error" });
		const prompt = body.prompt as Record<string, Node> | undefined;
		if (typeof prompt !== "object" || prompt === null) {
			return json(res, 400, {
				error: { type: "invalid_prompt", message: "Cannot execute because the prompt is not an object.", details: "", extra_info: {} },
				node_errors: {},
			});
		}
		const nodeErrors: Record<string, unknown> = {};
		for (const [id, node] of Object.entries(prompt)) {
			if (!KNOWN.has(node?.class_type)) {
				return json(res, 400, {
					error: {
						type: "invalid_prompt",
						message: `Cannot execute because node ${node?.class_type} does not exist.`,
						details: `Node ID '#${id}'`,
						extra_info: {},
					},
					node_errors: {},
				});
			}
			if (node.class_type === "LoadImage" && !this.#uploads.has(String(node.inputs?.image))) {
				nodeErrors[id] = {
					errors: [
						{
							type: "custom_validation_failed",
							message: "Custom validation failed for node",
							details: `image - Invalid image file: ${String(node.inputs?.image)}`,
							extra_info: {},
						},
					],
					dependent_outputs: [],
					class_type: "LoadImage",
				};
			}
		}
		if (!Object.values(prompt).some((n) => OUTPUT_NODES.has(n.class_type))) {
			return json(res, 400, { error: { type: "prompt_no_outputs", message: "Prompt has no outputs", details: "", extra_info: {} }, node_errors: {} });
		}
		if (Object.keys(nodeErrors).length > 0) {
			return json(res, 400, {
				error: { type: "prompt_outputs_failed_validation", message: "Prompt outputs failed validation", details: "", extra_info: {} },
				node_errors: nodeErrors,
			});
		}
		const promptId = typeof body.prompt_id === "string" ? body.prompt_id : randomUUID();
		const number = this.#number++;
		this.#pending.push({ number, promptId, prompt, clientId: typeof body.client_id === "string" ? body.client_id : undefined });
		this.#broadcastStatus();
		const reply = () => json(res, 200, { prompt_id: promptId, number, node_errors: {} });
		// The worker thread may start the prompt before this reply is written: the client must already listen for its id.
		if (this.faults.eventsBeforeReply) {
			this.#work();
			setTimeout(reply, 15);
		} else {
			reply();
			this.#work();
		}
	}

	#queue(): Record<string, unknown> {
		const row = (p: QueuedPrompt) => [p.number, p.promptId, p.prompt, { client_id: p.clientId }, []];
		return { queue_running: this.#running === undefined ? [] : [row(this.#running)], queue_pending: this.#pending.map(row) };
	}

	#postQueue(body: Record<string, unknown>, res: http.ServerResponse): void {
		// A deleted (or cleared) prompt just vanishes: no event, no history entry.
		if (body.clear === true) this.#pending.splice(0);
		if (Array.isArray(body.delete)) {
			for (const id of body.delete) {
				const i = this.#pending.findIndex((p) => p.promptId === id);
				if (i >= 0) this.#pending.splice(i, 1);
				this.log.deleted.push(String(id));
			}
		}
		this.#broadcastStatus();
		res.writeHead(200).end();
	}

	#interrupt(body: Record<string, unknown>, res: http.ServerResponse): void {
		const id = typeof body.prompt_id === "string" ? body.prompt_id : undefined;
		this.log.interrupts.push(id);
		// Sent while idle, or for another prompt, the interrupt is simply lost.
		if (this.#running !== undefined && (id === undefined || id === this.#running.promptId)) this.#running.interrupted = true;
		res.writeHead(200).end();
	}

	#view(url: URL, res: http.ServerResponse): void {
		const key = `${url.searchParams.get("type") ?? "output"}/${url.searchParams.get("subfolder") ?? ""}/${url.searchParams.get("filename") ?? ""}`;
		const bytes = this.#files.get(key);
		if (bytes === undefined) return json(res, 404, { error: "file not found" });
		res.writeHead(200, { "content-type": "image/png", "content-length": bytes.length }).end(bytes);
	}

	async #upload(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		const chunks: Buffer[] = [];
		for await (const chunk of req) chunks.push(chunk as Buffer);
		const form = await new Request("http://x/upload", {
			method: "POST",
			headers: req.headers as Record<string, string>,
			body: Buffer.concat(chunks),
		}).formData();
		const file = form.get("image");
		if (!(file instanceof Blob)) return json(res, 400, { error: "no image" });
		const name = (file as File).name;
		const subfolder = String(form.get("subfolder") ?? "");
		const type = String(form.get("type") ?? "input");
		const full = subfolder === "" ? name : `${subfolder}/${name}`;
		this.#files.set(`${type}/${subfolder}/${name}`, Buffer.from(await file.arrayBuffer()));
		this.#uploads.add(full);
		this.log.uploads.push(full);
		json(res, 200, { name, subfolder, type });
	}

	// ── the prompt worker ────────────────────────────────────────────────────────────────────

	#work(): void {
		if (this.#working || this.faults.neverStart) return;
		this.#working = true;
		setImmediate(() => {
			this.#loop().finally(() => {
				this.#working = false;
			});
		});
	}

	async #loop(): Promise<void> {
		while (this.#alive && !this.faults.neverStart) {
			const next = this.#pending.shift();
			if (next === undefined) return;
			this.#running = { ...next, interrupted: false, node: undefined };
			await this.#execute(this.#running);
			this.#running = undefined;
			this.#broadcastStatus();
		}
	}

	async #execute(job: QueuedPrompt & { interrupted: boolean; node: string | undefined }): Promise<void> {
		const { promptId } = job;
		const to = (type: string, data: Record<string, unknown>) => {
			if (!this.faults.dropEvents) this.#sendTo(job.clientId, type, { ...data, prompt_id: promptId });
		};
		const messages: unknown[] = [];
		to("execution_start", { timestamp: Date.now() });
		messages.push(["execution_start", { prompt_id: promptId, timestamp: Date.now() }]);
		to("execution_cached", { nodes: [], timestamp: Date.now() });
		if (this.faults.hangAfterStart) {
			await new Promise<void>((resolve) => {
				const check = setInterval(() => {
					if (!this.#alive || !this.faults.hangAfterStart || job.interrupted) {
						clearInterval(check);
						resolve();
					}
				}, 20);
			});
			return;
		}
		const outputs: Record<string, unknown> = {};
		const executed: string[] = [];
		const ids = Object.keys(job.prompt);
		for (const [i, id] of ids.entries()) {
			const node = job.prompt[id];
			const last = i === ids.length - 1;
			if (job.interrupted && !last) return this.#interrupted(job, id, node, executed, messages);
			// An interrupt that arrives during the last node is never looked at: the prompt completes.
			if (last) job.interrupted = false;
			job.node = id;
			to("executing", { node: id, display_node: id });
			if (node.class_type === "KSampler") {
				const steps = Number(node.inputs?.steps ?? 4);
				for (let step = 1; step <= steps; step++) {
					await sleep(this.faults.stepMs);
					if (!this.#alive) return;
					if (job.interrupted && !last) return this.#interrupted(job, id, node, executed, messages);
					to("progress", { value: step, max: steps, node: id });
					if (this.faults.previews && !this.faults.dropEvents) this.#sendPreview(job.clientId, promptId, step);
				}
			} else if (node.class_type === "Sleep") {
				await sleep(Number(node.inputs?.ms ?? 100));
			} else await sleep(this.faults.nodeMs);
			if (!this.#alive) return;
			if (node.class_type === "Fail") {
				const error = {
					node_id: id,
					node_type: "Fail",
					executed,
					exception_message: String(node.inputs?.message ?? "Allocation on device 0 would exceed allowed memory. (out of memory)"),
					exception_type: String(node.inputs?.type ?? "torch.OutOfMemoryError"),
					traceback: ['  File "execution.py", line 1, in execute\n', "    raise\n"],
					current_inputs: {},
					current_outputs: {},
				};
				to("execution_error", error);
				messages.push(["execution_error", { ...error, prompt_id: promptId }]);
				this.#history.set(promptId, {
					prompt: [job.number, promptId, job.prompt, {}, []],
					outputs,
					status: { status_str: "error", completed: false, messages },
				});
				this.completed++;
				to("executing", { node: null });
				return;
			}
			if (OUTPUT_NODES.has(node.class_type)) {
				const filename = `lifeguard_${promptId.slice(0, 8)}_${id}.png`;
				const type = node.class_type === "SaveImage" ? "output" : "temp";
				this.#files.set(`${type}//${filename}`, fakePng(`${promptId}:${id}`));
				const output = { images: [{ filename, subfolder: "", type }] };
				outputs[id] = output;
				to("executed", { node: id, display_node: id, output });
			}
			executed.push(id);
		}
		to("execution_success", { timestamp: Date.now() });
		messages.push(["execution_success", { prompt_id: promptId, timestamp: Date.now() }]);
		// main.py's worker writes the history after execute() returns, then sends `executing` with node null.
		await sleep(2);
		this.#history.set(promptId, { prompt: [job.number, promptId, job.prompt, {}, []], outputs, status: { status_str: "success", completed: true, messages } });
		this.completed++;
		to("executing", { node: null });
	}

	#interrupted(job: QueuedPrompt, id: string, node: Node, executed: string[], messages: unknown[]): void {
		const data = { prompt_id: job.promptId, node_id: id, node_type: node.class_type, executed };
		if (!this.faults.dropEvents) this.#sendTo(job.clientId, "execution_interrupted", data);
		messages.push(["execution_interrupted", data]);
		this.#history.set(job.promptId, {
			prompt: [job.number, job.promptId, job.prompt, {}, []],
			outputs: {},
			status: { status_str: "error", completed: false, messages },
		});
		this.completed++;
		if (!this.faults.dropEvents) this.#sendTo(job.clientId, "executing", { node: null, prompt_id: job.promptId });
	}

	// ── WebSocket ────────────────────────────────────────────────────────────────────────────

	#onSocket(ws: WebSocket, requested: string | undefined): void {
		const sid = requested ?? randomUUID().replaceAll("-", "");
		this.log.sockets++;
		this.#sockets.set(sid, ws);
		this.#all.add(ws);
		ws.on("error", () => {});
		ws.on("close", () => {
			this.#all.delete(ws);
			// server.py forgets the id when any socket with it closes, even if a newer one took it over.
			this.#sockets.delete(sid);
		});
		ws.send(JSON.stringify({ type: "status", data: { status: { exec_info: { queue_remaining: this.queueRemaining } }, sid } }));
		// A client that comes back with the id of the running prompt's owner learns the node, without a prompt_id.
		if (this.#running !== undefined && this.#running.clientId === sid)
			ws.send(JSON.stringify({ type: "executing", data: { node: this.#running.node ?? null } }));
	}

	#sendTo(clientId: string | undefined, type: string, data: Record<string, unknown>): void {
		if (clientId === undefined) return;
		const ws = this.#sockets.get(clientId);
		if (ws !== undefined && ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type, data }));
	}

	#sendPreview(clientId: string | undefined, promptId: string, step: number): void {
		if (clientId === undefined) return;
		const ws = this.#sockets.get(clientId);
		if (ws === undefined || ws.readyState !== ws.OPEN) return;
		const header = Buffer.alloc(8);
		header.writeUInt32BE(1, 0); // PREVIEW_IMAGE
		header.writeUInt32BE(2, 4); // PNG
		ws.send(Buffer.concat([header, fakePng(`preview:${promptId}:${step}`)]));
	}

	#broadcastStatus(): void {
		const text = JSON.stringify({ type: "status", data: { status: { exec_info: { queue_remaining: this.queueRemaining } } } });
		for (const ws of this.#all) if (ws.readyState === ws.OPEN) ws.send(text);
	}
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
	const text = JSON.stringify(body);
	res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
	const chunks: Buffer[] = [];
	for await (const chunk of req) chunks.push(chunk as Buffer);
	const text = Buffer.concat(chunks).toString();
	return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
}
