/** The ComfyUI pool against real test servers speaking ComfyUI's HTTP + /ws protocol: running jobs, errors, cancellation, the seed's shape, statistics. */
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { describe, it } from "node:test";
import type { Dispatcher } from "undici";
import {
	ComfyUICancelledError,
	ComfyUIExecutionError,
	type ComfyUIProgress,
	ComfyUITimeoutError,
	ComfyUIWorkflowError,
	createComfyUIPool,
} from "../../src/adapters/comfyui/index.ts";
import { ConfigError, ErrorCode } from "../../src/core/errors.ts";
import { ComfyServer, fakePng } from "./server.ts";
import { failing, img2img, invalid, sleepy, txt2img } from "./workflows.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
		await sleep(5);
	}
}

describe("run(workflow)", () => {
	it("queues the prompt, follows it to the end and returns the outputs with their image bytes", async () => {
		await using server = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [server.url] });
		const result = await pool.run(txt2img());
		assert.deepEqual(Object.keys(result.outputs), ["9"]);
		assert.equal(result.images.length, 1);
		const [image] = result.images;
		assert.equal(image.nodeId, "9");
		assert.equal(image.type, "output");
		assert.deepEqual(image.bytes, fakePng(`${result.promptId}:9`));
		assert.equal(result.attempts, 1);
		assert.equal(result.instance, `127.0.0.1:${server.port}`);
	});

	it("progress comes as a callback, as events and through the job's async iterator, in the server's order", async () => {
		await using server = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [server.url] });
		const called: string[] = [];
		const job = pool.submit(txt2img(3), { onProgress: (e) => called.push(e.type) });
		const emitted: string[] = [];
		job.on("progress", (e) => emitted.push(e.type));
		const iterated: ComfyUIProgress[] = [];
		for await (const event of job) iterated.push(event);
		await job.result;
		const types = iterated.map((e) => e.type);
		assert.deepEqual(types.slice(0, 3), ["queued", "started", "cached"]);
		assert.deepEqual(
			iterated.filter((e) => e.type === "progress").map((e) => (e.type === "progress" ? `${e.value}/${e.max}` : "")),
			["1/3", "2/3", "3/3"],
		);
		assert.equal(types.at(-1), "executed");
		assert.ok(!types.includes("preview"), "previews only when asked for");
		assert.deepEqual(called, types);
		assert.deepEqual(emitted, types.slice(emitted.length === types.length ? 0 : types.length - emitted.length));
	});

	it("previews (binary frames) are delivered when asked for", async () => {
		await using server = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [server.url] });
		const previews: Buffer[] = [];
		await pool.run(txt2img(3), { previews: true, onProgress: (e) => e.type === "preview" && previews.push(e.image) });
		assert.equal(previews.length, 3);
		assert.match(previews[0].toString("latin1"), /preview:/);
	});

	it("fetchImages: lazy leaves the bytes to image.fetch(), from the instance that made them", async () => {
		await using server = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [server.url], fetchImages: "lazy" });
		const result = await pool.run(txt2img(1));
		assert.equal(result.images[0].bytes, undefined);
		assert.deepEqual(await result.images[0].fetch(), fakePng(`${result.promptId}:9`));
	});

	it("an input image is uploaded to the instance that runs the job, before the prompt", async () => {
		await using a = await ComfyServer.start();
		await using b = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [a.url, b.url], strategy: "roundRobin" });
		await pool.start();
		for (let i = 0; i < 2; i++) {
			const result = await pool.run(img2img(`face-${i}.png`), { uploads: [{ name: `face-${i}.png`, data: Buffer.from("png bytes") }] });
			const ran = result.instance.endsWith(String(a.port)) ? a : b;
			const other = ran === a ? b : a;
			assert.ok(ran.log.uploads.includes(`face-${i}.png`));
			assert.ok(!other.log.uploads.includes(`face-${i}.png`));
		}
		assert.equal(a.log.uploads.length + b.log.uploads.length, 2);
	});
});

describe("errors", () => {
	it("a workflow the server rejects (400) is ComfyUIWorkflowError with ComfyUI's error and node errors, never re-queued", async () => {
		await using a = await ComfyServer.start();
		await using b = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [a.url, b.url] });
		const error = await pool.run(invalid()).catch((e: unknown) => e);
		assert.ok(error instanceof ComfyUIWorkflowError, String(error));
		assert.equal(error.code, ErrorCode.QUERY_FAILED);
		assert.equal(error.error.type, "invalid_prompt");
		assert.match(error.message, /NoSuchNode does not exist/);
		assert.equal(a.log.prompts + b.log.prompts, 1, "tried once, on one instance");
		const validation = await pool.run(img2img("missing.png")).catch((e: unknown) => e);
		assert.ok(validation instanceof ComfyUIWorkflowError);
		assert.deepEqual(Object.keys(validation.nodeErrors), ["1"]);
	});

	it("a node that raises is ComfyUIExecutionError (type, message, traceback); the instance cools down for that workflow only", async () => {
		await using a = await ComfyServer.start();
		await using b = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [a.url, b.url], strategy: "roundRobin" });
		await pool.start();
		const error = await pool.run(failing()).catch((e: unknown) => e);
		assert.ok(error instanceof ComfyUIExecutionError, String(error));
		assert.equal(error.exceptionType, "torch.OutOfMemoryError");
		assert.match(error.exceptionMessage, /out of memory/);
		assert.ok(error.traceback.length > 0);
		const failedOn = error.instance;
		assert.equal(a.log.prompts + b.log.prompts, 1, "an execution error is not re-queued");
		const second = await pool.run(failing()).catch((e: ComfyUIExecutionError) => e);
		assert.notEqual(second.instance, failedOn, "the failing workflow stays away from the instance that failed it");
		assert.equal(pool.stats().instances[failedOn].cooldowns, 1);
		const other = await pool.run(txt2img(1));
		const again = await pool.run(txt2img(1));
		assert.notEqual(other.instance, again.instance, "other workflows still go to both");
	});

	it("bad options are one CONFIG_INVALID listing every problem; URL credentials are never shown", () => {
		assert.throws(
			() =>
				createComfyUIPool({
					instances: ["ftp://x", "http://u:secret@h:1"],
					concurrency: 0,
					strategy: "fastest" as never,
					stallTimeoutMs: 0,
					bogus: 1,
				} as never),
			(e: unknown) => {
				assert.ok(e instanceof ConfigError);
				assert.deepEqual(e.problems.map((p) => p.path).sort(), ["bogus", "concurrency", "instances[0].url", "stallTimeoutMs", "strategy"]);
				assert.doesNotMatch(e.message, /secret/);
				return true;
			},
		);
		const pool = createComfyUIPool({ instances: ["http://user:secret@127.0.0.1:1"] });
		assert.doesNotMatch(JSON.stringify([pool.stats(), pool.details(), pool.pools().map((p) => p.label)]), /secret|user/);
	});

	it("zero where it would spin or fail everything is refused: probe delays, the job deadline, the HTTP deadline", async () => {
		// probeInitialMs: 0 made every probe of a down instance follow the last at once (633 in one second, measured).
		assert.throws(
			() =>
				createComfyUIPool({
					instances: ["http://127.0.0.1:1"],
					probeInitialMs: 0,
					probeMaxMs: 0,
					timeoutMs: 0,
					requestTimeoutMs: 0,
					cooldownMs: 0,
					healthCheckIntervalMs: 0,
					pingIntervalMs: 0,
				}),
			(e: unknown) => {
				assert.ok(e instanceof ConfigError);
				assert.deepEqual(e.problems.map((p) => p.path).sort(), ["probeInitialMs", "probeMaxMs", "requestTimeoutMs", "timeoutMs"]);
				return true;
			},
		);
		assert.throws(
			() => createComfyUIPool({ instances: ["http://127.0.0.1:1"], pongTimeoutMs: 0 }),
			(e: unknown) => e instanceof ConfigError && e.problems.map((p) => p.path).join() === "pongTimeoutMs",
		);
		await createComfyUIPool({ instances: ["http://127.0.0.1:1"], pingIntervalMs: 0, pongTimeoutMs: 0 }).close();
	});

	it("durations a timer cannot honour are refused with their path: past 2^31-1 ms, NaN, Infinity", () => {
		// Node fires a timer longer than 2^31-1 ms after 1 ms: a "25-day" stall timeout would fail every job at once.
		assert.throws(
			() =>
				createComfyUIPool({
					instances: ["http://127.0.0.1:1"],
					stallTimeoutMs: 2 ** 31,
					timeoutMs: Number.NaN,
					healthCheckIntervalMs: Number.POSITIVE_INFINITY,
				}),
			(e: unknown) => {
				assert.ok(e instanceof ConfigError);
				assert.deepEqual(e.problems.map((p) => p.path).sort(), ["healthCheckIntervalMs", "stallTimeoutMs", "timeoutMs"]);
				assert.match(e.message, /NaN/);
				return true;
			},
		);
	});
});

describe("cancellation and deadlines", () => {
	it("a per-call timeoutMs no timer can honour is CONFIG_INVALID, and nothing is sent", async () => {
		// Before: -1, NaN and 2^31 armed a 1 ms timer (a QUERY_TIMEOUT "within NaN ms"), and "500" was accepted.
		await using server = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [server.url] });
		await pool.start();
		for (const timeoutMs of [-1, 0, Number.NaN, 2 ** 31, "500"]) {
			await assert.rejects(pool.run(txt2img(1), { timeoutMs: timeoutMs as number }), (e: unknown) => {
				assert.ok(e instanceof ConfigError, `${String(timeoutMs)}: ${String(e)}`);
				assert.equal(e.problems[0]?.path, "timeoutMs");
				return true;
			});
			await assert.rejects(pool.getConnection({ timeoutMs: timeoutMs as number }), ConfigError);
		}
		assert.equal(server.log.prompts, 0);
		assert.equal(pool.stats().running, 0);
	});

	it("cancelled while waiting in the pool: rejected at once, nothing is sent", async () => {
		await using server = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [server.url] });
		// The first job runs 1 s: a sleep that runs late on a loaded machine still aborts the second before it could start.
		const first = pool.run(sleepy(1_000));
		const controller = new AbortController();
		const second = pool.run(txt2img(1), { signal: controller.signal });
		await sleep(50);
		controller.abort();
		await assert.rejects(second, (e: unknown) => e instanceof ComfyUICancelledError && e.code === ErrorCode.ACQUIRE_ABORTED);
		await first;
		assert.equal(server.log.prompts, 1);
	});

	it("cancelled while queued on the instance: deleted there (it gets no event), rejected, the slot freed", async () => {
		await using server = await ComfyServer.start({ neverStart: true });
		await using pool = createComfyUIPool({ instances: [server.url] });
		const job = pool.submit(txt2img(1));
		await until(() => server.queueRemaining === 1, 2_000, "the prompt queued");
		job.cancel();
		await assert.rejects(job.result, ComfyUICancelledError);
		await until(() => server.log.deleted.length === 1 && pool.stats().running === 0, 2_000, "the delete and the slot");
		assert.equal(server.queueRemaining, 0);
		assert.deepEqual(server.log.interrupts, [], "a queued prompt is not interrupted");
	});

	it("cancelled while running: interrupted by prompt_id; the next job runs once it has left", async () => {
		await using server = await ComfyServer.start({ stepMs: 30 });
		await using pool = createComfyUIPool({ instances: [server.url] });
		const job = pool.submit(txt2img(50));
		await new Promise<void>((resolve) => job.on("progress", (e) => e.type === "progress" && e.value === 2 && resolve()));
		job.cancel(new Error("user changed their mind"));
		const error = await job.result.catch((e: unknown) => e);
		assert.ok(error instanceof ComfyUICancelledError);
		assert.match(error.message, /interrupted/);
		await until(() => server.log.interrupts.length === 1, 2_000, "the interrupt");
		assert.deepEqual(server.log.interrupts, [job.promptId]);
		const next = await pool.run(txt2img(1));
		assert.ok(next.images.length === 1);
		assert.equal(server.completed, 2, "the interrupted prompt ended on the server, then the next ran");
	});

	it("timeoutMs bounds the whole job (QUERY_TIMEOUT, kind deadline), queue wait included", async () => {
		await using server = await ComfyServer.start({ stepMs: 50 });
		await using pool = createComfyUIPool({ instances: [server.url] });
		const started = performance.now();
		const error = await pool.run(txt2img(100), { timeoutMs: 200 }).catch((e: unknown) => e);
		assert.ok(error instanceof ComfyUITimeoutError && error.kind === "deadline", String(error));
		assert.ok(performance.now() - started < 1_000);
	});
});

describe("seed 000's shape", () => {
	it("createComfyUIPool({ host, port, apiPath, timeout, min, max }), getConnection(), execute('queue_prompt', { workflow }), release()", async () => {
		await using server = await ComfyServer.start();
		await using pool = createComfyUIPool({ host: "127.0.0.1", port: server.port, apiPath: "/api", timeout: 30, verifyTls: true, min: 1, max: 2 });
		await pool.start();
		const a = await pool.getConnection();
		const b = await pool.getConnection({ timeoutMs: 1_000 });
		const third = await pool.getConnection({ timeoutMs: 100 }).catch((e: unknown) => e);
		assert.ok(third instanceof ComfyUITimeoutError, "max 2 connections");
		const result = await a.execute("queue_prompt", { workflow: txt2img(2) });
		assert.equal(result.images.length, 1);
		const stats = await b.execute("system_stats");
		assert.ok(Array.isArray((stats as { devices: unknown[] }).devices));
		const queue = await b.execute("get_queue");
		assert.deepEqual(queue.queue_pending, []);
		const history = await b.execute("get_history", { promptId: result.promptId });
		assert.ok(result.promptId in history);
		a.release();
		b.release();
		a.release();
		const c = await pool.getConnection({ timeoutMs: 1_000 });
		c.release();
		assert.equal(pool.stats().running, 0);
	});
});

describe("ManagedClient and statistics", () => {
	it("kind comfyui; each instance a pool and a breaker; per-instance queue depth, completed, failed, durations, VRAM", async () => {
		await using a = await ComfyServer.start();
		await using b = await ComfyServer.start();
		const pool = createComfyUIPool({
			name: "images",
			instances: [
				{ url: a.url, name: "gpu-a" },
				{ url: b.url, name: "gpu-b" },
			],
		});
		assert.equal(pool.kind, "comfyui");
		await pool.start();
		await Promise.all([pool.run(txt2img(1)), pool.run(txt2img(1)), pool.run(failing()).catch(() => {})]);
		assert.deepEqual(
			pool.pools().map((p) => p.label),
			["gpu-a", "gpu-b"],
		);
		const s = pool.stats();
		assert.equal(s.instancesUp, 2);
		const total = s.instances["gpu-a"].completed + s.instances["gpu-b"].completed;
		assert.equal(total, 2);
		assert.equal(s.instances["gpu-a"].failed + s.instances["gpu-b"].failed, 1);
		assert.equal(s.instances["gpu-a"].jobMs.count + s.instances["gpu-b"].jobMs.count, 2);
		assert.equal(s.instances["gpu-a"].vramTotalBytes, 24 * 1024 ** 3);
		assert.deepEqual(
			pool.breakers().map((x) => [x.label, x.state]),
			[
				["gpu-a", "closed"],
				["gpu-b", "closed"],
			],
		);
		const view = pool.pools()[0].pool.stats();
		assert.equal(view.name, "images[gpu-a]");
		assert.equal(view.max, 1);
		assert.ok(view.healthScore >= 90, "up: 100, less 10 per workflow it cools down for");
		await pool.close();
		await assert.rejects(pool.run(txt2img(1)), (e: unknown) => (e as { code?: string }).code === ErrorCode.POOL_CLOSED);
		await until(() => a.openSockets === 0 && b.openSockets === 0, 2_000, "sockets closed");
	});
});

describe("statistics tell what happened", () => {
	it("an instance's pool view: peak is the most jobs run there at once (0 before any), total never below active", async () => {
		await using server = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [{ url: server.url, concurrency: 3 }] });
		await pool.start();
		const view = () => pool.pools()[0].pool.stats();
		// Before: peak was the instance's concurrency whatever had run.
		assert.deepEqual(view().peak, { total: 0, active: 0, pending: 0 });
		const held = await pool.getConnection();
		assert.equal(view().active, 1);
		assert.equal(view().total, 1);
		await Promise.all([pool.run(txt2img(2)), pool.run(txt2img(2))]);
		held.release();
		assert.equal(view().peak.active, 3);
		assert.equal(view().peak.total, 3);
		assert.equal(view().active, 0);
		pool.pools()[0].pool.resetStats();
		assert.equal(view().peak.active, 0, "a new window");
	});
});

describe("transport", () => {
	it("basic auth from the URL and bearer tokens go on every HTTP call and on the socket's handshake", async () => {
		await using basic = await ComfyServer.start({ authorization: `Basic ${Buffer.from("render:s3cret").toString("base64")}` });
		await using bearer = await ComfyServer.start({ authorization: "Bearer tok-123" });
		await using pool = createComfyUIPool({
			instances: [`http://render:s3cret@127.0.0.1:${basic.port}`, { url: bearer.url, auth: { token: "tok-123" } }],
			strategy: "roundRobin",
			min: 2,
		});
		await pool.start();
		await Promise.all([pool.run(txt2img(1)), pool.run(txt2img(1))]);
		assert.equal(basic.log.unauthorized + bearer.log.unauthorized, 0);
		assert.equal(basic.completed + bearer.completed, 2);
		assert.doesNotMatch(JSON.stringify(pool.details()), /s3cret|tok-123/);
	});

	it("every HTTP call goes through the dispatcher given (lifeguard's HTTP client is an undici Dispatcher)", async () => {
		const { Agent } = await import("undici");
		let dispatched = 0;
		class CountingAgent extends Agent {
			override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
				dispatched++;
				return super.dispatch(options, handler);
			}
		}
		const agent = new CountingAgent();
		await using server = await ComfyServer.start();
		const pool = createComfyUIPool({ instances: [server.url], dispatcher: agent });
		await pool.run(txt2img(1));
		await pool.close();
		assert.ok(dispatched >= 4, `${dispatched} calls: system_stats, prompt, history, view`);
		assert.equal(agent.closed, false, "a dispatcher the caller gave is the caller's to close");
		await agent.close();
	});

	it("the test server keeps ComfyUI's trap: a second socket with a client id silences the first, and its close deafens the second", async () => {
		await using server = await ComfyServer.start();
		const { WebSocket } = await import("ws");
		const open = async () => {
			const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?clientId=shared`);
			const seen: string[] = [];
			ws.on("message", (d) => seen.push(JSON.parse(String(d)).type));
			await new Promise((r) => ws.once("open", r));
			return { ws, seen };
		};
		const first = await open();
		const second = await open();
		first.ws.close();
		await new Promise((r) => first.ws.once("close", r));
		await fetch(`${server.url}/prompt`, { method: "POST", body: JSON.stringify({ prompt: txt2img(1), client_id: "shared" }) });
		await until(() => server.completed === 1, 2_000, "the prompt to run");
		await sleep(20);
		assert.ok(!second.seen.includes("execution_start"), "the reconnect that reused the id hears nothing of its prompt");
		second.ws.close();
	});
});

describe("bounds", () => {
	it("more than maxQueued waiting jobs are refused at once with POOL_QUEUE_FULL", async () => {
		await using server = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [server.url], maxQueued: 2 });
		const running = pool.run(sleepy(200));
		await until(() => pool.stats().running === 1, 2_000, "the first job on its slot");
		const waiting = [pool.run(txt2img(1)), pool.run(txt2img(1))];
		await assert.rejects(pool.run(txt2img(1)), (e: unknown) => (e as { code?: string }).code === ErrorCode.POOL_QUEUE_FULL);
		await Promise.all([running, ...waiting]);
	});

	it("start() does not wait forever for instances that never answer: it rejects, naming each one's last error", async () => {
		await using pool = createComfyUIPool({ instances: ["http://127.0.0.1:1"], requestTimeoutMs: 100, probeInitialMs: 20 });
		const started = performance.now();
		await assert.rejects(
			pool.start(),
			(e: unknown) => e instanceof Error && /fewer than min 1 instances up/.test(e.message) && /127\.0\.0\.1:1/.test(e.message),
		);
		assert.ok(performance.now() - started < 1_000);
		assert.equal(pool.breakers()[0].state === "closed", false);
	});

	it("close() ends an event socket still in its handshake, instead of leaving it open until requestTimeoutMs", async () => {
		// Before: the process stayed alive for the whole handshake timeout (30 s by default) after close() resolved.
		const upgrades: Socket[] = [];
		const server = http.createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
		server.on("upgrade", (_req, socket: Socket) => {
			socket.on("error", () => {});
			upgrades.push(socket); // never answered: a proxy or a wedged server
		});
		server.listen(0, "127.0.0.1");
		await once(server, "listening");
		try {
			const pool = createComfyUIPool({ instances: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`], requestTimeoutMs: 20_000 });
			void pool.start().catch(() => {});
			await until(() => upgrades.length === 1, 2_000, "the handshake under way");
			await pool.close();
			await until(() => upgrades[0].destroyed || upgrades[0].readableEnded, 1_000, "the client gave up its half-done handshake");
		} finally {
			for (const socket of upgrades) socket.destroy();
			server.close();
		}
	});

	it("an interrupt the server ignores (during the last node) still cancels the job, and the slot waits for the prompt to leave", async () => {
		await using server = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [server.url] });
		const lastNodeSleeps = { "1": { class_type: "SaveImage", inputs: {} }, "9": { class_type: "Sleep", inputs: { ms: 300 } } };
		const job = pool.submit(lastNodeSleeps);
		await new Promise<void>((resolve) => job.on("progress", (e) => e.type === "executing" && e.node === "9" && resolve()));
		job.cancel();
		await assert.rejects(job.result, ComfyUICancelledError);
		let peak = 0;
		const watch = setInterval(() => (peak = Math.max(peak, server.queueRemaining)), 1);
		const next = pool.run(txt2img(1));
		await next;
		clearInterval(watch);
		assert.equal(server.completed, 2, "the ignored interrupt let the first prompt complete, then the next ran");
		assert.equal(peak, 1, "the next prompt was not sent while the cancelled one still ran");
	});
});

describe("ComfyUI's traps", () => {
	it("a prompt that finishes before POST /prompt has answered is not missed (the pool chose its prompt_id and listened first)", async () => {
		await using server = await ComfyServer.start({ nodeMs: 0, eventsBeforeReply: true });
		await using pool = createComfyUIPool({ instances: [server.url], stallTimeoutMs: 5_000 });
		await pool.start();
		const started = performance.now();
		const result = await pool.run({ "9": { class_type: "SaveImage", inputs: {} } });
		assert.equal(result.images.length, 1);
		assert.ok(performance.now() - started < 1_000, "by its events, not by the stall timeout");
	});

	it("a prompt another client clears from the queue (no event, no history) is noticed at the stall timeout and re-queued", async () => {
		await using server = await ComfyServer.start({ stepMs: 20 });
		await using pool = createComfyUIPool({ instances: [{ url: server.url, concurrency: 2 }], stallTimeoutMs: 1_000 });
		await pool.start();
		const first = pool.run(txt2img(15));
		const second = pool.run(txt2img(1));
		await until(() => server.queueRemaining === 2, 2_000, "the second prompt pending behind the first");
		const cleared = await fetch(`${server.url}/queue`, { method: "POST", body: JSON.stringify({ clear: true }) });
		assert.equal(cleared.status, 200);
		const started = performance.now();
		const result = await second;
		assert.equal(result.attempts, 2, "sent again: its first prompt vanished");
		assert.equal(result.images.length, 1);
		assert.ok(performance.now() - started < 4_000, "within a stall timeout or so, not never");
		assert.equal((await first).images.length, 1);
	});

	it("/interrupt and POST /queue answer 200 with an empty body, and a cancel still settles", async () => {
		await using server = await ComfyServer.start({ neverStart: true });
		const answer = await fetch(`${server.url}/api/interrupt`, { method: "POST", body: "{}" });
		assert.equal(answer.status, 200);
		assert.equal(await answer.text(), "");
		await using pool = createComfyUIPool({ instances: [server.url] });
		const controller = new AbortController();
		const job = pool.run(txt2img(1), { signal: controller.signal });
		await until(() => server.queueRemaining === 1, 2_000, "queued");
		await sleep(30);
		controller.abort();
		await assert.rejects(job, ComfyUICancelledError);
	});
});
