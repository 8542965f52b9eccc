/** `lifeguard check <file>`: validates a config file as `lifeguard serve` would read it, connecting to nothing. */
import { ConfigError, type ConfigProblem } from "../core/errors.ts";
import { poolsFromConfig } from "../server/pools-from-config.ts";
import { checkGateway, checkService, parseConfigFile } from "../server/service-config.ts";
import { type CommandResult, ExitCode, UsageError } from "./exit-codes.ts";
import { parseFlags } from "./flags.ts";

export const CHECK_HELP = `Usage: lifeguard check <file> [--json]

Validates a lifeguard config file without connecting to anything: every problem at once, each
with its path and source, never quoting a secret. Exit code 0 when it is valid, 1 when not.

  --json       the result as JSON
  -h, --help   this help`;

export async function check(args: string[]): Promise<CommandResult> {
	const flags = parseFlags(args, { json: "boolean" }, 1);
	if (flags.help) return { code: ExitCode.ok, out: CHECK_HELP };
	const file = flags.positionals[0];
	if (file === undefined) throw new UsageError("the config file is missing, e.g. lifeguard check lifeguard.yaml");
	const problems: ConfigProblem[] = [];
	const collect = async <T>(read: () => T | Promise<T>): Promise<T | undefined> => {
		try {
			return await read();
		} catch (error) {
			if (!(error instanceof ConfigError)) throw error;
			problems.push(...error.problems);
			return undefined;
		}
	};
	const parsed = await collect(() => parseConfigFile(file));
	const service = parsed && (await collect(() => checkService(parsed.document.service ?? {}, file)));
	const gateway = parsed && (await collect(() => checkGateway(parsed.document.gateway, file)));
	const served = parsed && (await collect(() => poolsFromConfig(parsed.document.pools, file)));
	const pools = served?.list().map((c) => ({ name: c.name, kind: c.kind })) ?? [];
	await served?.close(0);
	if (problems.length > 0 || service === undefined || gateway === undefined) {
		if (flags.values.json === true) return { code: ExitCode.problem, out: JSON.stringify({ valid: false, file, problems }, null, 2) };
		const lines = problems.map((p) => `  - ${p.path}: ${p.message}${p.source === undefined ? "" : ` (${p.source})`}`);
		return { code: ExitCode.problem, err: `${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n${lines.join("\n")}` };
	}
	const summary = { valid: true, file, service, gateway: { keys: gateway.keys.map((k) => ({ ...k, key: "***" })) }, pools };
	if (flags.values.json === true) return { code: ExitCode.ok, out: JSON.stringify(summary, null, 2) };
	return {
		code: ExitCode.ok,
		out: [
			`${file}: valid`,
			`  service: ${service.host}:${service.port}, data directory ${service.dataDir}, /metrics ${service.metricsPublic ? "public" : "needs the token"}`,
			`  pools: ${pools.map((p) => `${p.name} (${p.kind})`).join(", ") || "none"}`,
			`  gateway client keys: ${gateway.keys.map((k) => k.name).join(", ") || "none"}`,
		].join("\n"),
	};
}
