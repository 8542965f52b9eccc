/** `lifeguard serve`: runs the service until SIGTERM or SIGINT, then shuts it down cleanly. */
import { ErrorCode, LifeguardError } from "../core/errors.ts";
import { startService } from "../server/start.ts";
import { type CommandResult, ExitCode, UsageError } from "./exit-codes.ts";
import { parseFlags } from "./flags.ts";

export const SERVE_HELP = `Usage: lifeguard serve [--config <file>] [--port <n>] [--host <addr>] [--data-dir <dir>]

Runs the lifeguard service: the dashboard at /, health and metrics, the admin API, SQL over HTTP
and the LLM gateway, in front of the pools of the config file. Without --config it runs the
embedded default: an SQLite database in the data directory and a demo upstream.

  --config <file>    YAML config file (service:, pools:, gateway: sections)
  --port <n>         port to listen on (default 7070; 0 picks a free one)
  --host <addr>      address to listen on (default 127.0.0.1: this machine only)
  --data-dir <dir>   data directory for the admin token and the embedded database (default .lifeguard)
  -h, --help         this help

The admin token is generated at first start, stored in <data-dir>/admin-token (mode 0600) and
printed only then. SIGTERM or SIGINT: not ready, drain, close; a second signal exits at once.`;

export async function serve(args: string[]): Promise<CommandResult> {
	const flags = parseFlags(args, { config: "string", port: "string", host: "string", "data-dir": "string" });
	if (flags.help) return { code: ExitCode.ok, out: SERVE_HELP };
	const text = (name: "config" | "port" | "host" | "data-dir") => (typeof flags.values[name] === "string" ? (flags.values[name] as string) : undefined);
	const port = text("port") === undefined ? undefined : Number(text("port"));
	if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65_535))
		throw new UsageError(`--port must be a port number (0-65535), got ${flags.values.port}`);
	let started: Awaited<ReturnType<typeof startService>>;
	try {
		started = await startService({
			...(text("config") === undefined ? {} : { configFile: text("config") }),
			...(port === undefined ? {} : { port }),
			...(text("host") === undefined ? {} : { host: text("host") }),
			...(text("data-dir") === undefined ? {} : { dataDir: text("data-dir") }),
		});
	} catch (error) {
		// A config problem keeps its own report (main prints ConfigError's every problem); a pool that could not start is one line, not a stack.
		if (error instanceof LifeguardError && error.code === ErrorCode.CONFIG_INVALID) throw error;
		return { code: ExitCode.problem, err: startFailure(error) };
	}
	console.log(started.banner.join("\n"));
	let failure: unknown;
	await new Promise<void>((resolve) => {
		let stopping = false;
		// Pools still starting when the banner was printed may fail for good (failFast, a permanent error): the service stops then.
		started.service.started.catch((error: unknown) => {
			if (stopping) return;
			stopping = true;
			failure = error;
			started.service.shutdown().then(resolve, resolve);
		});
		const onSignal = (signal: NodeJS.Signals) => {
			if (stopping) {
				console.error(`${signal} again: exiting without waiting`);
				process.exit(130);
			}
			stopping = true;
			console.log(`${signal}: not ready, draining, closing…`);
			started.service.shutdown().then(resolve, (error: unknown) => {
				console.error(`shutdown failed: ${(error as Error).name}`);
				resolve();
			});
		};
		process.on("SIGTERM", onSignal);
		process.on("SIGINT", onSignal);
	});
	if (failure !== undefined) return { code: ExitCode.problem, err: startFailure(failure) };
	return { code: ExitCode.ok, out: "lifeguard stopped" };
}

/** Why the service could not start, in one line: lifeguard's own messages (which never hold a secret), otherwise a driver error's name and code only (its message may quote a URL). */
function startFailure(error: unknown): string {
	if (error instanceof LifeguardError) return `lifeguard serve: could not start: ${error.message}`;
	const code = (error as { code?: unknown } | null)?.code;
	const name = error instanceof Error ? error.name : "error";
	return `lifeguard serve: could not start: ${name}${typeof code === "string" ? ` (${code})` : ""} (a pool with failFast could not open its first connection, or the address is in use)`;
}
