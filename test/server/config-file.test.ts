/** The service's config file: `${VAR}` in its own sections (`service`, `gateway`) as in the pool sections, and problems that point into the file. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigError } from "../../src/core/errors.ts";
import { readConfigFile } from "../../src/server/config-file.ts";

function problemsOf(read: () => unknown): { path: string; message: string; source?: string }[] {
	try {
		read();
	} catch (error) {
		assert.ok(error instanceof ConfigError, String(error));
		return error.problems;
	}
	assert.fail("expected a ConfigError");
}

describe("the service's config file", () => {
	let dir: string;
	before(() => {
		dir = mkdtempSync(join(tmpdir(), "lifeguard-config-file-"));
	});
	after(() => rmSync(dir, { recursive: true, force: true }));
	const write = (name: string, lines: string[]) => {
		const file = join(dir, name);
		writeFileSync(file, `${lines.join("\n")}\n`);
		return file;
	};

	describe(`\${VAR} in the service and gateway sections`, () => {
		it("takes gateway client keys and service settings from the environment", () => {
			const file = write("env.yaml", [
				"service:",
				`  port: \${CF_PORT:-8123}`,
				`  metricsPublic: \${CF_METRICS_PUBLIC}`,
				`  dataDir: \${CF_DATA_DIR:-/tmp/cf-data}`,
				"gateway:",
				"  keys:",
				`    - { name: team-a, key: "\${CF_TEAM_A_KEY}", rpm: "\${CF_RPM:-60}" }`,
			]);
			const config = readConfigFile(file, { CF_TEAM_A_KEY: "cf-team-a-key-0123456789", CF_METRICS_PUBLIC: "true" });
			assert.equal(config.gateway.keys[0]?.key, "cf-team-a-key-0123456789");
			assert.equal(config.gateway.keys[0]?.rpm, 60);
			assert.equal(config.service.port, 8123);
			assert.equal(config.service.metricsPublic, true);
			assert.equal(config.service.dataDir, "/tmp/cf-data");
		});

		it("an unset variable is one problem at its key, with file:line:column, naming the variable", () => {
			const file = write("unset.yaml", ["gateway:", "  keys:", `    - { name: team-a, key: "\${CF_UNSET_KEY}" }`]);
			const problems = problemsOf(() => readConfigFile(file, {}));
			assert.deepEqual(
				problems.map((p) => p.path),
				["gateway.keys.0.key"],
			);
			assert.match(problems[0]?.message ?? "", /CF_UNSET_KEY is not set/);
			assert.equal(problems[0]?.source, `${file}:3:23`);
		});

		it("never quotes a substituted value, even one that is refused", () => {
			const file = write("short.yaml", ["gateway:", "  keys:", `    - { name: team-a, key: "\${CF_SHORT_KEY}" }`]);
			const problems = problemsOf(() => readConfigFile(file, { CF_SHORT_KEY: "sh0rt-s3cret" }));
			assert.deepEqual(
				problems.map((p) => p.path),
				["gateway.keys.0.key"],
			);
			assert.doesNotMatch(JSON.stringify(problems), /sh0rt-s3cret/);
		});

		it("a substituted value that is not a number where one is needed is still refused", () => {
			const file = write("nan.yaml", ["service:", `  port: \${CF_PORT}`]);
			const problems = problemsOf(() => readConfigFile(file, { CF_PORT: "eighty" }));
			assert.deepEqual(
				problems.map((p) => p.path),
				["service.port"],
			);
			assert.doesNotMatch(JSON.stringify(problems), /eighty/);
		});
	});

	describe("problems of the service's sections", () => {
		it("point at file:line:column like those of the pool sections", () => {
			const file = write("where.yaml", ["service:", "  port: 8080", "  prot: 1", "gateway:", "  keys:", "    - { name: a, key: short }"]);
			const problems = problemsOf(() => readConfigFile(file, {}));
			const at = Object.fromEntries(problems.map((p) => [p.path, p.source]));
			assert.equal(at["service.prot"], `${file}:3:3`);
			assert.equal(at["gateway.keys.0.key"], `${file}:6:18`);
		});
	});
});
