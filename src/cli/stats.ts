/** `lifeguard stats <url>`: a running service's pools as a table, or JSON. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { PoolStats } from "../core/stats.ts";
import { ADMIN_TOKEN_FILE } from "../server/admin-token.ts";
import { type CommandResult, ExitCode, UsageError } from "./exit-codes.ts";
import { parseFlags } from "./flags.ts";

export const STATS_HELP = `Usage: lifeguard stats <url> [--token <token>] [--data-dir <dir>] [--json]

Prints the pools of the lifeguard service at <url> (http://127.0.0.1:7070) as a table: every
client's pools with their connections by state, waiters, wait p50/p99, utilization and health.

  --token <token>    the admin token (default: LIFEGUARD_ADMIN_TOKEN, else <data-dir>/admin-token)
  --data-dir <dir>   the service's data directory, to read the token from (default .lifeguard)
  --json             the service's JSON as it is
  -h, --help         this help

Exit codes: 0 every pool healthy, 1 the service is unreachable, refused the token, or a pool is
unhealthy, 2 usage.`;

/** What the table reads of a pool's statistics: the service sends each pool's `stats()` as JSON. */
type PoolStatsJson = Pick<
	PoolStats,
	"name" | "state" | "max" | "total" | "active" | "idle" | "creating" | "pending" | "waitMs" | "utilization" | "healthScore" | "acquires"
>;

interface ClientJson {
	name: string;
	kind: string;
	pools: { id: string; label: string; stats: PoolStatsJson }[];
}

export async function stats(args: string[]): Promise<CommandResult> {
	const flags = parseFlags(args, { token: "string", "data-dir": "string", json: "boolean" }, 1);
	if (flags.help) return { code: ExitCode.ok, out: STATS_HELP };
	const base = flags.positionals[0];
	if (base === undefined) throw new UsageError("the service's URL is missing, e.g. lifeguard stats http://127.0.0.1:7070");
	let url: URL;
	try {
		url = new URL("/api/v1/admin/connection-pools", base);
	} catch {
		throw new UsageError(`not a URL: ${base}`);
	}
	const token = typeof flags.values.token === "string" ? flags.values.token : tokenFrom(String(flags.values["data-dir"] ?? ".lifeguard"));
	let response: Response;
	try {
		response = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
	} catch (error) {
		return {
			code: ExitCode.problem,
			err: `cannot reach ${url.origin}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`,
		};
	}
	if (response.status === 401) return { code: ExitCode.problem, err: `${url.origin} refused the admin token (give it with --token or LIFEGUARD_ADMIN_TOKEN)` };
	if (!response.ok) return { code: ExitCode.problem, err: `${url.origin} answered HTTP ${response.status}` };
	const body = (await response.json()) as { clients: ClientJson[] };
	const unhealthy = body.clients.flatMap((c) => c.pools).some((p) => p.stats.state !== "open" || p.stats.healthScore < 50);
	const code = unhealthy ? ExitCode.problem : ExitCode.ok;
	if (flags.values.json === true) return { code, out: JSON.stringify(body, null, 2) };
	return { code, out: table(body.clients) };
}

function tokenFrom(dataDir: string): string | undefined {
	if (process.env.LIFEGUARD_ADMIN_TOKEN) return process.env.LIFEGUARD_ADMIN_TOKEN;
	try {
		return readFileSync(join(dataDir, ADMIN_TOKEN_FILE), "utf8").trim();
	} catch {
		return undefined;
	}
}

function table(clients: ClientJson[]): string {
	const header = ["pool", "kind", "state", "active", "idle", "creating", "waiting", "max", "wait p50", "wait p99", "util", "health", "acquires", "failed"];
	const rows = clients.flatMap((c) =>
		c.pools.map(({ id, stats: s }) => [
			id,
			c.kind,
			s.state,
			String(s.active),
			String(s.idle),
			String(s.creating),
			String(s.pending),
			String(s.max),
			`${s.waitMs.p50.toFixed(2)} ms`,
			`${s.waitMs.p99.toFixed(2)} ms`,
			`${Math.round(s.utilization * 100)}%`,
			String(s.healthScore),
			String(s.acquires.ok),
			String(s.acquires.failed),
		]),
	);
	const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
	const line = (cells: string[]) => cells.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ");
	return [line(header), ...rows.map(line)].join("\n");
}
