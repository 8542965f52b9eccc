/**
 * The ComfyUI pool against instances that fail the ways real ones do: a worker that never
 * starts prompts, a node that hangs, completion events that never come, a socket that drops
 * mid-job, an instance that dies and comes back, failing health, and the choice of instance.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ComfyUIProgress, ComfyUITimeoutError, createComfyUIPool } from "../../src/adapters/comfyui/index.ts";
import { TcpProxy } from "../support/tcp-proxy.ts";
import { ComfyServer } from "./server.ts";
import { txt2img } from "./workflows.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
		await sleep(5);
	}
}

describe("stalls", () => {
	it("a prompt that never starts is deleted there after the stall timeout and re-queued on another instance", async () => {
		await using stuck = await ComfyServer.start({ neverStart: true });
		await using good = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [stuck.url, good.url], strategy: "roundRobin", stallTimeoutMs: 200 });
		await pool.start();
		const events: ComfyUIProgress[] = [];
		const result = await pool.run(txt2img(1), { onProgress: (e) => events.push(e) });
		assert.equal(result.attempts, 2);
		assert.equal(result.instance, `127.0.0.1:${good.port}`);
		assert.equal(stuck.log.deleted.length, 1, "deleted from the stuck queue, so it never runs twice");
		assert.equal(stuck.queueRemaining, 0);
		assert.ok(events.some((e) => e.type === "requeued"));
		assert.equal(pool.stats().instances[`127.0.0.1:${stuck.port}`].cooldowns, 1, "the stuck instance cools down for this workflow");
	});

	it("a prompt that started and then went silent fails (QUERY_TIMEOUT, kind stall) and is interrupted, not re-queued", async () => {
		await using hung = await ComfyServer.start({ hangAfterStart: true });
		await using good = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [hung.url, good.url], strategy: "roundRobin", stallTimeoutMs: 150 });
		await pool.start();
		const started = performance.now();
		const error = await pool.run(txt2img(1)).catch((e: unknown) => e);
		assert.ok(error instanceof ComfyUITimeoutError && error.kind === "stall", String(error));
		assert.ok(performance.now() - started < 1_000, "noticed at the stall timeout");
		await until(() => hung.log.interrupts.length === 1, 2_000, "the interrupt");
		assert.equal(good.log.prompts, 0, "a started job is not run again elsewhere");
	});

	it("progress resets the stall timer: a long job that keeps reporting is not a stall", async () => {
		await using server = await ComfyServer.start({ stepMs: 40 });
		await using pool = createComfyUIPool({ instances: [server.url], stallTimeoutMs: 120 });
		const result = await pool.run(txt2img(15));
		assert.ok(result.durationMs > 500, `ran ${result.durationMs.toFixed(0)} ms, 4× the stall timeout`);
	});

	it("completion events that never arrive: the history, read at the stall timeout, finishes the job", async () => {
		await using server = await ComfyServer.start({ dropEvents: true });
		await using pool = createComfyUIPool({ instances: [server.url], stallTimeoutMs: 150 });
		const result = await pool.run(txt2img(2));
		assert.equal(result.images.length, 1);
		assert.ok(result.images[0].bytes !== undefined);
	});

	it("after maxAttempts instances all stalled, the job fails with the stall and the attempt count", async () => {
		const servers = await Promise.all([0, 1, 2].map(() => ComfyServer.start({ neverStart: true })));
		try {
			await using pool = createComfyUIPool({ instances: servers.map((s) => s.url), stallTimeoutMs: 100, maxAttempts: 2 });
			await pool.start();
			const error = await pool.run(txt2img(1)).catch((e: unknown) => e);
			assert.ok(error instanceof ComfyUITimeoutError && error.kind === "stall", String(error));
			assert.equal(error.attempts, 2);
			assert.equal(
				servers.reduce((n, s) => n + s.log.prompts, 0),
				2,
			);
			await until(() => servers.reduce((n, s) => n + s.queueRemaining, 0) === 0, 2_000, "every stalled prompt deleted");
		} finally {
			await Promise.all(servers.map((s) => s.close()));
		}
	});
});

describe("sockets", () => {
	it("a socket dropped mid-job: the job still finishes (history polled), and the new socket has a fresh client id", async () => {
		await using server = await ComfyServer.start({ stepMs: 20 });
		await using pool = createComfyUIPool({ instances: [server.url], stallTimeoutMs: 10_000 });
		const job = pool.submit(txt2img(20));
		await new Promise<void>((resolve) => job.on("progress", (e) => e.type === "progress" && e.value === 3 && resolve()));
		server.dropSockets();
		const result = await job.result;
		assert.equal(result.images.length, 1);
		assert.ok(result.durationMs < 8_000, "not by the stall timeout: polling found it");
		await until(() => pool.stats().instances[`127.0.0.1:${server.port}`].socketReconnects === 1, 2_000, "the reconnect");
		assert.equal(server.log.sockets, 2);
		const next = await pool.run(txt2img(1));
		assert.equal(next.attempts, 1, "the reconnected socket hears its events again");
	});

	it("a half-open socket (the network stops delivering) is noticed by the heartbeat and the instance taken out", async () => {
		await using server = await ComfyServer.start();
		const proxy = await TcpProxy.start(server.port);
		try {
			await using pool = createComfyUIPool({ instances: [`http://127.0.0.1:${proxy.port}`], pingIntervalMs: 100, pongTimeoutMs: 150, probeInitialMs: 5_000 });
			await pool.start();
			proxy.setMode("stall");
			const stalledAt = performance.now();
			await until(() => pool.stats().instances[`127.0.0.1:${proxy.port}`].state !== "up", 2_000, "the instance taken out");
			const noticed = performance.now() - stalledAt;
			assert.ok(noticed < 100 + 150 + 300, `noticed after ${noticed.toFixed(0)} ms`);
			assert.match(pool.stats().instances[`127.0.0.1:${proxy.port}`].lastError ?? "", /no pong/);
		} finally {
			await proxy.close();
		}
	});
});

describe("instances that die", () => {
	it("a dying instance is taken out, its waiting jobs run elsewhere, it is probed with backoff and comes back", async () => {
		await using a = await ComfyServer.start({ stepMs: 20 });
		await using b = await ComfyServer.start({ stepMs: 20 });
		await using pool = createComfyUIPool({ instances: [a.url, b.url], probeInitialMs: 50, probeMaxMs: 200, stallTimeoutMs: 1_000 });
		await pool.start();
		const labelA = `127.0.0.1:${a.port}`;
		const jobs = Array.from({ length: 6 }, () => pool.run(txt2img(3)));
		await until(() => a.completed >= 1, 2_000, "a to finish one");
		const killedAt = performance.now();
		await a.kill();
		await until(() => pool.stats().instances[labelA].state !== "up", 5_000, "a taken out");
		const noticedMs = performance.now() - killedAt;
		const results = await Promise.allSettled(jobs);
		const ok = results.filter((r) => r.status === "fulfilled").length;
		assert.ok(ok >= 5, `${ok} of 6 jobs finished (one running on the dying instance may be lost)`);
		const healthBefore = a.log.healthChecks;
		await sleep(400);
		assert.equal(pool.stats().instances[labelA].state === "up", false);
		assert.equal(pool.breakers()[0].state === "closed", false);
		// Probes at 50 ms then 100 ms more: polled, as a loaded machine may run them late.
		await until(() => pool.stats().instances[labelA].probeFailures >= 2, 5_000, "probed again and again, with backoff");
		await a.revive();
		await until(() => pool.stats().instances[labelA].state === "up", 2_000, "a back");
		assert.ok(a.log.healthChecks > healthBefore);
		// Health checks (every 10 s) would notice only much later; the socket's close is what tells at once.
		assert.ok(noticedMs < 5_000, `noticed the death in ${noticedMs.toFixed(0)} ms`);
		assert.equal(pool.stats().instances[labelA].socketReconnects, 1);
	});

	it("failing /system_stats takes an instance out at the next health check; healthy again, it is probed back in", async () => {
		await using server = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [server.url], healthCheckIntervalMs: 50, probeInitialMs: 50, probeMaxMs: 100 });
		await pool.start();
		server.faults.failHealth = true;
		const label = `127.0.0.1:${server.port}`;
		await until(() => pool.stats().instances[label].state !== "up", 1_000, "taken out");
		assert.equal(pool.pools()[0].pool.stats().healthScore <= 50, true);
		const waiting = pool.run(txt2img(1));
		await sleep(100);
		server.faults.failHealth = false;
		const result = await waiting;
		assert.equal(result.attempts, 1, "the job waited for the instance instead of failing");
		assert.ok(pool.stats().instances[label].healthFailures >= 1);
	});
});

describe("choosing an instance", () => {
	it("per-instance concurrency: never more prompts on an instance than its slots", async () => {
		await using a = await ComfyServer.start();
		await using b = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [a.url, { url: b.url, concurrency: 2 }] });
		await pool.start();
		let peakA = 0;
		let peakB = 0;
		const watch = setInterval(() => {
			peakA = Math.max(peakA, a.queueRemaining);
			peakB = Math.max(peakB, b.queueRemaining);
		}, 1);
		await Promise.all(Array.from({ length: 9 }, () => pool.run(txt2img(2))));
		clearInterval(watch);
		assert.equal(peakA, 1);
		assert.ok(peakB <= 2);
		assert.equal(a.completed + b.completed, 9);
	});

	it("leastQueued avoids an instance whose queue other clients filled", async () => {
		await using busy = await ComfyServer.start({ stepMs: 50 });
		await using free = await ComfyServer.start();
		await using pool = createComfyUIPool({ instances: [busy.url, free.url] });
		await pool.start();
		for (let i = 0; i < 3; i++) {
			await fetch(`${busy.url}/prompt`, { method: "POST", body: JSON.stringify({ prompt: txt2img(20), client_id: "someone-else" }) });
		}
		await until(() => pool.stats().instances[`127.0.0.1:${busy.port}`].queueDepth === 3, 2_000, "the status message");
		for (let i = 0; i < 3; i++) assert.equal((await pool.run(txt2img(1))).instance, `127.0.0.1:${free.port}`);
	});

	it("roundRobin takes turns; idleFirst prefers an instance with nothing queued", async () => {
		await using a = await ComfyServer.start();
		await using b = await ComfyServer.start();
		await using rr = createComfyUIPool({ instances: [a.url, b.url], strategy: "roundRobin" });
		await rr.start();
		const order: string[] = [];
		for (let i = 0; i < 4; i++) order.push((await rr.run(txt2img(1))).instance);
		assert.notEqual(order[0], order[1]);
		assert.equal(order[0], order[2]);
		assert.equal(order[1], order[3]);
		await fetch(`${a.url}/prompt`, {
			method: "POST",
			body: JSON.stringify({ prompt: { "1": { class_type: "Sleep", inputs: { ms: 500 } }, "9": { class_type: "SaveImage" } } }),
		});
		await using idle = createComfyUIPool({ instances: [a.url, b.url], strategy: "idleFirst" });
		await idle.start();
		await until(() => idle.stats().instances[`127.0.0.1:${a.port}`].queueDepth === 1, 2_000, "a busy");
		assert.equal((await idle.run(txt2img(1))).instance, `127.0.0.1:${b.port}`);
	});
});

describe("a network partition", () => {
	it("a prompt moved off an unreachable instance is deleted there when it answers again, so it never runs twice", async () => {
		await using cut = await ComfyServer.start({ neverStart: true });
		await using good = await ComfyServer.start();
		const proxy = await TcpProxy.start(cut.port);
		try {
			await using pool = createComfyUIPool({
				instances: [`http://127.0.0.1:${proxy.port}`, good.url],
				strategy: "roundRobin",
				requestTimeoutMs: 300,
				stallTimeoutMs: 100,
				probeInitialMs: 50,
				probeMaxMs: 100,
				min: 2,
			});
			await pool.start();
			const job = pool.submit(txt2img(1));
			await until(() => cut.queueRemaining === 1, 2_000, "queued on the instance behind the proxy");
			proxy.setMode("stall");
			proxy.cutAll();
			proxy.setMode("refuse");
			const result = await job.result;
			assert.equal(result.instance, `127.0.0.1:${good.port}`, "moved to the reachable instance");
			assert.equal(cut.queueRemaining, 1, "still queued where it was: nothing could reach it");
			proxy.setMode("pass");
			await until(() => cut.queueRemaining === 0, 3_000, "the abandoned prompt deleted once the instance answers");
			assert.equal(cut.log.deleted.length >= 1, true);
		} finally {
			await proxy.close();
		}
	});
});
