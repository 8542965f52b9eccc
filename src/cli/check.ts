/** `lifeguard check <file>`: validates a config file as `lifeguard serve` would read it, connecting to nothing. */
import { explain, formatExplanation } from "../config/explain.ts";
import { ConfigError } from "../core/errors.ts";
import { type ConfigFile, readConfigFile } from "../server/config-file.ts";
import { type CommandResult, ExitCode, UsageError } from "./exit-codes.ts";
import { parseFlags } from "./flags.ts";

export const CHECK_HELP = `Usage: lifeguard check <file> [--json]

Validates a lifeguard config file without connecting to anything: every problem at once, each
with its path, its source (file:line:column, environment variable) and a "did you mean", never
quoting a secret; or, when it is valid, the effective value and source of every pool setting,
secrets masked. Exit code 0 when it is valid, 1 when not.

  --json       the result as JSON
  -h, --help   this help`;

export async function check(args: string[]): Promise<CommandResult> {
	const flags = parseFlags(args, { json: "boolean" }, 1);
	if (flags.help) return { code: ExitCode.ok, out: CHECK_HELP };
	const file = flags.positionals[0];
	if (file === undefined) throw new UsageError("the config file is missing, e.g. lifeguard check lifeguard.yaml");
	let read: ConfigFile;
	try {
		read = readConfigFile(file);
	} catch (error) {
		if (!(error instanceof ConfigError)) throw error;
		const problems = error.problems;
		if (flags.values.json === true) return { code: ExitCode.problem, out: JSON.stringify({ valid: false, file, problems }, null, 2) };
		const lines = problems.map((p) => `  - ${p.path}: ${p.message}${p.source === undefined ? "" : ` (${p.source})`}`);
		return { code: ExitCode.problem, err: `${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n${lines.join("\n")}` };
	}
	const settings = explain(read.pools);
	const gateway = { keys: read.gateway.keys.map((k) => ({ ...k, key: "***" })), llm: Object.keys(read.gateway.llm) };
	if (flags.values.json === true) return { code: ExitCode.ok, out: JSON.stringify({ valid: true, file, service: read.service, gateway, settings }, null, 2) };
	const service = read.service;
	return {
		code: ExitCode.ok,
		out: [
			`${file}: valid`,
			`  service: ${service.host}:${service.port}, data directory ${service.dataDir}, /metrics ${service.metricsPublic ? "public" : "needs the token"}`,
			`  gateway: client keys ${read.gateway.keys.map((k) => k.name).join(", ") || "none"}; LLM clients ${gateway.llm.join(", ") || "none"}`,
			"effective pool settings (value, source):",
			formatExplanation(settings)
				.split("\n")
				.map((line) => `  ${line}`)
				.join("\n"),
		].join("\n"),
	};
}
