/** Every runnable example in examples/ runs to completion against the real local services: examples that rot are worse than none. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
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
		for (const name of ["pool", "keyed-pool", "postgres", "mysql", "sqlite", "redis", "http", "llm", "generic-pool", "manager", "custom-connection"]) {
			assert.ok(examples.includes(`${name}.ts`), `examples/${name}.ts`);
		}
	});

	it("the main job (npm start) runs on its embedded default and prints the pools' statistics", async () => {
		const { stdout } = await run(process.execPath, [new URL("../../src/main.ts", import.meta.url).pathname], { timeout: 60_000 });
		assert.match(stdout, /SQLite, the embedded default/);
		assert.match(stdout, /QUERY_TIMEOUT/);
		assert.match(stdout, /"pool": "sqlite"/);
		assert.match(stdout, /"pool": "echo"/);
	});

	for (const file of examples) {
		it(`${file} runs and exits 0`, async () => {
			const { stdout } = await run(process.execPath, [new URL(file, dir).pathname], { timeout: 30_000 });
			assert.ok(stdout.trim().length > 0, "it prints what it shows");
		});
	}
});
