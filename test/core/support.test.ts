/** The shared test helpers in test/support behave as the tests relying on them assume. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { eventually, waitFor } from "../support/wait.ts";

describe("test/support", () => {
	it("eventually returns true once the check holds, false at the timeout", async () => {
		let n = 0;
		assert.equal(await eventually(() => ++n >= 3, 1_000, 1), true);
		const started = performance.now();
		assert.equal(await eventually(() => false, 50, 5), false);
		assert.ok(performance.now() - started >= 45);
	});

	it("waitFor throws naming what it waited for", async () => {
		await assert.rejects(
			waitFor("the moon", () => false, 30),
			/timed out after 30 ms waiting for the moon/,
		);
		await waitFor("now", () => true);
	});

	it("watchCrashes collects unhandled rejections until stopped", () => {
		// In a child: the test runner reports an unhandled rejection as a failure of its own.
		const script = `
			import { watchCrashes } from ${JSON.stringify(new URL("../support/crashes.ts", import.meta.url).href)};
			const crashes = watchCrashes();
			Promise.reject(new Error("nobody caught me"));
			await new Promise((r) => setTimeout(r, 10));
			console.log(crashes.stop().map(String).join("|"));
		`;
		const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 10_000 });
		assert.equal(child.stdout.trim(), "Error: nobody caught me", child.stderr);
		assert.equal(child.status, 0);
	});
});
