/** closeOnSignals, tested in a real child process that receives real signals. */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("./fixtures/shutdown-child.ts", import.meta.url));

interface Exit {
	code: number | null;
	signal: NodeJS.Signals | null;
	lines: string[];
	elapsedMs: number;
}

/** Starts the child, sends `signal` once it is ready, and collects its output until it exits. */
async function signalChild(signal: NodeJS.Signals, args: string[] = []): Promise<Exit> {
	const child: ChildProcess = spawn(process.execPath, [CHILD, ...args], { stdio: ["ignore", "pipe", "pipe"] });
	const lines: string[] = [];
	let stderr = "";
	child.stderr?.on("data", (chunk) => (stderr += chunk));
	const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
	let sentAt = 0;
	child.stdout?.setEncoding("utf8");
	let buffered = "";
	child.stdout?.on("data", (chunk: string) => {
		buffered += chunk;
		const parts = buffered.split("\n");
		buffered = parts.pop() ?? "";
		for (const line of parts) {
			lines.push(line);
			if (line === "ready") {
				sentAt = performance.now();
				child.kill(signal);
			}
		}
	});
	const [code, exitSignal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
	clearTimeout(killer);
	assert.ok(sentAt > 0, `child never became ready; stderr:\n${stderr}`);
	return { code, signal: exitSignal, lines, elapsedMs: performance.now() - sentAt };
}

describe("closeOnSignals", () => {
	it("on SIGTERM closes every pool, waits for leases, then dies of SIGTERM as it would have", async () => {
		const exit = await signalChild("SIGTERM", ["--hold-ms", "100"]);
		assert.equal(exit.signal, "SIGTERM");
		assert.equal(exit.code, null);
		assert.equal(exit.lines[1], "shutdown SIGTERM");
		for (const line of ["destroyed orders 1", "destroyed cache 1", "closed orders", "closed cache"])
			assert.ok(exit.lines.includes(line), `missing "${line}" in ${exit.lines}`);
		assert.ok(exit.elapsedMs >= 100, `exited after ${exit.elapsedMs} ms, before the lease was released`);
	});

	it("on SIGINT does the same and dies of SIGINT", async () => {
		const exit = await signalChild("SIGINT");
		assert.equal(exit.signal, "SIGINT");
		assert.ok(exit.lines.includes("closed orders") && exit.lines.includes("closed cache"));
	});

	it("destroys a lease still held at timeoutMs instead of waiting for it", async () => {
		// Held 60 s: waiting for the lease instead of destroying it at 100 ms could not end within the 15 s bound (child start-up included).
		const exit = await signalChild("SIGTERM", ["--hold-ms", "60000", "--timeout-ms", "100"]);
		assert.equal(exit.signal, "SIGTERM");
		assert.ok(exit.lines.includes("destroyed orders 1"));
		assert.ok(exit.elapsedMs < 15_000, `took ${exit.elapsedMs} ms`);
	});

	it("leaves the signal to the application's own handler when it has one", async () => {
		const exit = await signalChild("SIGTERM", ["--own-handler"]);
		assert.equal(exit.signal, null);
		assert.equal(exit.code, 0);
		assert.equal(exit.lines.filter((l) => l === "own handler SIGTERM").length, 1);
		assert.ok(exit.lines.includes("closed orders") && exit.lines.includes("closed cache"));
	});
});
