/**
 * The package as users get it: `npm pack` (which runs `prepare`, the step a git install runs
 * too) must produce a tarball that installs into a fresh project and serves every subpath in
 * package.json `exports`, with no source tree or devDependency beside it.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const manifest = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as {
	name: string;
	scripts: Record<string, string>;
	exports: Record<string, unknown>;
};
const NPM_FLAGS = ["--no-audit", "--no-fund", "--loglevel=error"];

describe("the packed package", () => {
	let work = "";
	let project = "";

	before(() => {
		work = mkdtempSync(join(tmpdir(), "package-pack-"));
		// Pack a copy of the tracked files, as a git clone would have them: no dist/ to start from.
		const source = join(work, "source");
		const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: repo, encoding: "utf8" }).split("\0").filter(Boolean);
		for (const file of tracked) {
			mkdirSync(dirname(join(source, file)), { recursive: true });
			cpSync(join(repo, file), join(source, file));
		}
		symlinkSync(join(repo, "node_modules"), join(source, "node_modules"));
		const tarball = execFileSync("npm", ["pack", "--pack-destination", work, ...NPM_FLAGS], { cwd: source, encoding: "utf8", timeout: 180_000 })
			.trim()
			.split("\n")
			.at(-1) as string;
		project = join(work, "project");
		mkdirSync(project);
		writeFileSync(join(project, "package.json"), JSON.stringify({ name: "package-pack-consumer", private: true, type: "module" }));
		execFileSync("npm", ["install", join(work, tarball), "--ignore-scripts", "--omit=dev", "--prefer-offline", ...NPM_FLAGS], {
			cwd: project,
			encoding: "utf8",
			timeout: 300_000,
		});
	});

	after(() => {
		if (work !== "") rmSync(work, { recursive: true, force: true });
	});

	it("has a prepare script that builds dist/, so a git install works", () => {
		assert.match(manifest.scripts.prepare ?? "", /\bbuild\b/);
	});

	it("imports every subpath in exports from a fresh project", () => {
		const subpaths = Object.keys(manifest.exports).filter((p) => p !== "./package.json");
		assert.ok(subpaths.includes("."));
		const specifiers = subpaths.map((p) => (p === "." ? manifest.name : `${manifest.name}/${p.slice(2)}`));
		const script = `
			for (const specifier of ${JSON.stringify(specifiers)}) {
				const module = await import(specifier);
				console.log(specifier, Object.keys(module).length);
			}
		`;
		const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: project, encoding: "utf8", timeout: 60_000 });
		const lines = out.trim().split("\n");
		assert.equal(lines.length, specifiers.length, out);
		for (const [i, line] of lines.entries()) {
			const [specifier, count] = line.split(" ");
			assert.equal(specifier, specifiers[i]);
			assert.ok(Number(count) > 0, `${specifier} exports nothing`);
		}
	});

	it("resolves the main entry's types and a core export from the installed copy", () => {
		const out = execFileSync(
			process.execPath,
			["--input-type=module", "-e", "const m = await import('lifeguard'); console.log(typeof m.createPool, import.meta.resolve('lifeguard'))"],
			{
				cwd: project,
				encoding: "utf8",
			},
		);
		assert.match(out, /^function file:.*\/project\/node_modules\/lifeguard\/dist\/index\.js/);
		assert.ok(readFileSync(join(project, "node_modules", "lifeguard", "dist", "index.d.ts"), "utf8").includes("createPool"));
	});
});
