/** docs/core.md walks acquire → release with links to source lines: each link must still land on what it names. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

const docs = new URL("../../docs/core.md", import.meta.url);

describe("docs/core.md line links", () => {
	it("every link to a source line lands on the code it names", () => {
		const text = readFileSync(docs, "utf8");
		const links = [...text.matchAll(/\[([^\]]+)\]\(\.\.\/(src\/[\w/.-]+\.ts)#L(\d+)\)/g)];
		assert.ok(links.length >= 20, `expected the walkthrough's links, found ${links.length}`);
		for (const [, label, path, line] of links) {
			const source = readFileSync(new URL(`../../${path}`, import.meta.url), "utf8").split("\n")[Number(line) - 1] ?? "";
			// The label's last identifier (`lease.release()` → release, `Waiters.push` → push, "housekeeping round" → housekeep).
			const words = label
				.replace(/[`()#]/g, "")
				.split(/[.\s]+/)
				.filter(Boolean);
			const name = words.at(-1) === "round" ? "housekeep" : (words.at(-1) as string);
			assert.ok(source.includes(name), `${path}#L${line} should show ${name} (${label}), shows: ${source.trim()}`);
		}
	});
});
