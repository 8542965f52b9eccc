/** The `lifeguard` command line as scripts use it: every command's --help, its output, and its exit codes (0 ok, 1 problem, 2 usage). */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { type ServiceProcess, startServiceProcess } from "../server/service-process.ts";

const BIN = new URL("../../src/cli/bin.ts", import.meta.url).pathname;
const exec = promisify(execFile);

async function lifeguard(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
	try {
		const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { timeout: 30_000, env: { ...process.env, LIFEGUARD_ADMIN_TOKEN: "" } });
		return { code: 0, stdout, stderr };
	} catch (error) {
		const e = error as { code: number; stdout: string; stderr: string };
		return { code: e.code, stdout: e.stdout, stderr: e.stderr };
	}
}

describe("lifeguard (the command line)", () => {
	let dir: string;
	before(() => {
		dir = mkdtempSync(join(tmpdir(), "lifeguard-cli-"));
	});
	after(() => rmSync(dir, { recursive: true, force: true }));

	describe("usage", () => {
		it("--help on each command prints its usage and exits 0", async () => {
			for (const command of ["serve", "check", "stats", "size"]) {
				const r = await lifeguard(command, "--help");
				assert.equal(r.code, 0, command);
				assert.match(r.stdout, new RegExp(`^Usage: lifeguard ${command}`), command);
			}
			const top = await lifeguard("--help");
			assert.equal(top.code, 0);
			assert.match(top.stdout, /serve .*\n.*check .*\n.*stats .*\n.*size/);
		});

		it("no command, an unknown command, an unknown flag or a missing argument exits 2 saying what is wrong", async () => {
			assert.equal((await lifeguard()).code, 2);
			const unknown = await lifeguard("serv");
			assert.equal(unknown.code, 2);
			assert.match(unknown.stderr, /unknown command: serv/);
			const flag = await lifeguard("serve", "--prot", "1");
			assert.equal(flag.code, 2);
			assert.match(flag.stderr, /--prot/);
			assert.equal((await lifeguard("serve", "--port", "http")).code, 2);
			assert.equal((await lifeguard("stats")).code, 2);
			assert.equal((await lifeguard("check")).code, 2);
			assert.equal((await lifeguard("size", "--rate", "10")).code, 2);
		});
	});

	describe("check", () => {
		it("a valid file: exit 0 and what it holds, keys masked", async () => {
			const file = join(dir, "ok.yaml");
			writeFileSync(
				file,
				"service:\n  port: 8080\npools:\n  cli_pg:\n    kind: postgres\n    url: postgres://app:cli-db-s3cret@db:5432/app\n    max: 7\ngateway:\n  keys:\n    - { name: team, key: lg-secret-key-0123456789 }\n",
			);
			const r = await lifeguard("check", file);
			assert.equal(r.code, 0, r.stderr);
			assert.match(r.stdout, /valid/);
			assert.match(
				r.stdout,
				new RegExp(`pools\\.cli_pg\\.max\\s+7\\s+\\(${file.replaceAll("/", "\\/")}:7:\\d+\\)`),
				"the effective value and its file:line:column",
			);
			assert.match(r.stdout, /pools\.cli_pg\.acquireTimeoutMs\s+30000\s+\(default\)/);
			assert.doesNotMatch(r.stdout, /cli-db-s3cret/);
			const json = await lifeguard("check", file, "--json");
			assert.doesNotMatch(json.stdout, /lg-secret-key/);
			assert.equal(JSON.parse(json.stdout).gateway.keys[0].key, "***");
		});

		it("an invalid file: exit 1 and every problem with its path, never a secret", async () => {
			const file = join(dir, "bad.yaml");
			writeFileSync(
				file,
				[
					"service:",
					"  prot: 8080",
					"  port: -1",
					"pools:",
					"  cli_pg:",
					"    kind: postgress",
					"  cli_lite:",
					"    kind: sqlite",
					"    max: 0",
					"gateway:",
					"  keys:",
					"    - { name: team, key: short-s3cret }",
					"",
				].join("\n"),
			);
			const r = await lifeguard("check", file);
			assert.equal(r.code, 1);
			for (const path of ["service.prot", "service.port", "pools.cli_pg.kind", "pools.cli_lite.max", "gateway.keys.0.key"]) {
				assert.match(r.stderr, new RegExp(`- ${path.replaceAll(".", "\\.")}:`), path);
			}
			assert.match(r.stderr, /service\.prot: unknown key; did you mean "port"\?/);
			assert.match(r.stderr, /pools\.cli_pg\.kind: .*did you mean "postgres"/);
			assert.match(r.stderr, new RegExp(`service\\.prot: .*\\(${file.replaceAll("/", "\\/")}:2:3\\)`), "each problem names its file:line:column");
			assert.doesNotMatch(r.stderr, /short-s3cret/);
			assert.equal((await lifeguard("check", join(dir, "missing.yaml"))).code, 1);
		});
	});

	describe("serve", () => {
		it("a pool that cannot start (failFast, backend down) exits 1 with one line saying so: no stack, no password", async () => {
			const file = join(dir, "down.yaml");
			writeFileSync(
				file,
				"service:\n  port: 0\npools:\n  cli_down:\n    kind: postgres\n    url: postgres://app:cli-down-s3cret@127.0.0.1:1/app\n    min: 1\n    failFast: true\n",
			);
			const r = await lifeguard("serve", "--config", file, "--data-dir", join(dir, "down-data"));
			assert.equal(r.code, 1, r.stderr);
			assert.match(r.stderr, /^lifeguard serve: could not start: .*ECONNREFUSED/);
			assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
			assert.doesNotMatch(r.stderr + r.stdout, /cli-down-s3cret|\n\s+at /);
		});
	});

	describe("size", () => {
		it("applies Little's law with headroom", async () => {
			const r = await lifeguard("size", "--rate", "200", "--latency-ms", "25", "--json");
			assert.equal(r.code, 0);
			assert.deepEqual((({ inFlight, needed, suggested }) => ({ inFlight, needed, suggested }))(JSON.parse(r.stdout)), {
				inFlight: 5,
				needed: 8,
				suggested: 8,
			});
		});

		it("exits 1 when the load needs more than the backend allows", async () => {
			const r = await lifeguard("size", "--rate", "5000", "--latency-ms", "100", "--max", "100");
			assert.equal(r.code, 1);
			assert.match(r.stdout, /above the backend's limit of 100/);
		});
	});

	describe("stats", () => {
		let service: ServiceProcess;
		before(async () => {
			service = await startServiceProcess();
		});
		after(async () => {
			await service?.stop();
		});

		it("prints a running service's pools as a table, reading the token from the data directory", async () => {
			const r = await lifeguard("stats", service.url, "--data-dir", service.dataDir);
			assert.equal(r.code, 0, r.stderr);
			const [header, ...rows] = r.stdout.trim().split("\n");
			assert.match(header, /^pool\s+kind\s+state\s+active\s+idle/);
			assert.ok(
				rows.some((row) => /^embedded\/primary\s+sqlite\s+open/.test(row)),
				r.stdout,
			);
			assert.ok(
				rows.some((row) => /^demo-upstream\s+pool\s+open/.test(row)),
				r.stdout,
			);
		});

		it("--json gives the service's JSON", async () => {
			const r = await lifeguard("stats", service.url, "--token", service.token as string, "--json");
			assert.equal(r.code, 0);
			assert.deepEqual(
				JSON.parse(r.stdout).clients.map((c: { name: string }) => c.name),
				["embedded", "demo-upstream", "demo-llm"],
			);
		});

		it("exits 1 when the token is refused or the service is unreachable", async () => {
			const refused = await lifeguard("stats", service.url, "--token", "wrong-token-0123456789");
			assert.equal(refused.code, 1);
			assert.match(refused.stderr, /refused the admin token/);
			const unreachable = await lifeguard("stats", "http://127.0.0.1:1", "--token", "x");
			assert.equal(unreachable.code, 1);
			assert.match(unreachable.stderr, /cannot reach/);
		});
	});
});
