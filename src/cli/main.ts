/**
 * `lifeguard <command>`: serve, check, stats, size. Exit codes: 0 ok, 1 a problem found, 2 usage.
 */
import { LifeguardError } from "../core/errors.ts";
import { check } from "./check.ts";
import { type CommandResult, ExitCode, UsageError } from "./exit-codes.ts";
import { serve } from "./serve.ts";
import { size } from "./size.ts";
import { stats } from "./stats.ts";

export const MAIN_HELP = `Usage: lifeguard <command> [options]

Commands:
  serve           run the service (dashboard, health, metrics, admin API, SQL over HTTP, LLM gateway)
  check <file>    validate a config file: every problem, or the effective values and their sources
  stats <url>     print a running service's pools as a table (--json for JSON)
  size            the pool-size calculator (Little's law)

Run lifeguard <command> --help for a command's options.
Exit codes: 0 ok, 1 a problem was found, 2 the command line is wrong.`;

const COMMANDS: Record<string, (args: string[]) => Promise<CommandResult>> = {
	serve,
	check,
	stats,
	size,
};

export async function runCli(argv: string[]): Promise<CommandResult> {
	const [command, ...rest] = argv;
	if (command === undefined || command === "--help" || command === "-h" || command === "help") {
		return { code: command === undefined ? ExitCode.usage : ExitCode.ok, ...(command === undefined ? { err: MAIN_HELP } : { out: MAIN_HELP }) };
	}
	const run = COMMANDS[command];
	if (run === undefined) return { code: ExitCode.usage, err: `unknown command: ${command}\n\n${MAIN_HELP}` };
	try {
		return await run(rest);
	} catch (error) {
		if (error instanceof UsageError) return { code: ExitCode.usage, err: `lifeguard ${command}: ${error.message}\nRun lifeguard ${command} --help for usage.` };
		if (error instanceof LifeguardError) return { code: ExitCode.problem, err: error.message };
		const e = error as NodeJS.ErrnoException;
		if (e?.code === "EADDRINUSE") return { code: ExitCode.problem, err: `lifeguard ${command}: the address is already in use; pick another with --port` };
		throw error;
	}
}

/** Runs the command line of this process and exits with its code. */
export async function main(argv = process.argv.slice(2)): Promise<void> {
	const result = await runCli(argv);
	if (result.out !== undefined) process.stdout.write(`${result.out}\n`);
	if (result.err !== undefined) process.stderr.write(`${result.err}\n`);
	process.exitCode = result.code;
}
