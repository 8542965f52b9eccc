/** Every runnable example in examples/ runs to completion against the real local services: examples that rot are worse than none. */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";
import { requireService } from "../support/services.ts";

const run = promisify(execFile);
const dir = new URL("../../examples/", import.meta.url);
const examples = readdirSync(dir)
	.filter((f) => f.endsWith(".ts"))
	.sort();

describe("examples", () => {
	before(async () => {
		await Promise.all([requireService("postgres"), requireService("mysql"), requireService("redis")]);
	});

	it("there is an example for the core, the keyed pool, every adapter, the compat layer and the manager", () => {
		for (const name of [
			"pool",
			"keyed-pool",
			"postgres",
			"mysql",
			"sqlite",
			"redis",
			"generic-pool",
			"manager",
			"custom-connection",
			"websocket",
			"llm",
			"comfyui",
			"http",
			"firestore",
			"mongodb",
		]) {
			assert.ok(examples.includes(`${name}.ts`), `examples/${name}.ts`);
		}
	});

	it("the main job (npm start) is the service on its embedded default: it prints its address and token, serves, and stops on SIGTERM", async () => {
		const dataDir = mkdtempSync(join(tmpdir(), "lifeguard-main-"));
		const child = spawn(process.execPath, [new URL("../../src/main.ts", import.meta.url).pathname, "--port", "0", "--data-dir", dataDir], {
			stdio: ["ignore", "pipe", "pipe"],
		});
		try {
			let stdout = "";
			child.stdout.setEncoding("utf8");
			await new Promise<void>((resolve, reject) => {
				const timer = setTimeout(() => reject(new Error(`no banner within 30 s: ${stdout}`)), 30_000);
				child.stdout.on("data", (chunk: string) => {
					stdout += chunk;
					if (stdout.includes("not shown again")) {
						clearTimeout(timer);
						resolve();
					}
				});
			});
			const url = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
			const token = /admin token: (\S+)\n/.exec(stdout)?.[1];
			assert.ok(url !== undefined && token !== undefined, stdout);
			assert.match(stdout, /embedded \(sqlite\)/);
			const pools = await fetch(`${url}/api/v1/admin/connection-pools`, { headers: { authorization: `Bearer ${token}` } });
			assert.equal(pools.status, 200);
			const exited = new Promise((resolve) => child.once("exit", resolve));
			child.kill("SIGTERM");
			assert.equal(await exited, 0);
		} finally {
			child.kill("SIGKILL");
			rmSync(dataDir, { recursive: true, force: true });
		}
	});

	for (const file of examples) {
		it(`${file} runs and exits 0`, async () => {
			const { stdout } = await run(process.execPath, [new URL(file, dir).pathname], { timeout: 30_000 });
			assert.ok(stdout.trim().length > 0, "it prints what it shows");
		});
	}
});
