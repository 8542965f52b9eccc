/** `lifeguard size`: the pool-size calculator (Little's law: connections = arrival rate × time held × headroom). */
import { recommendPoolSize } from "../config/sizing.ts";
import { type CommandResult, ExitCode, UsageError } from "./exit-codes.ts";
import { parseFlags } from "./flags.ts";

export const SIZE_HELP = `Usage: lifeguard size --rate <per second> --latency-ms <ms> [--headroom <factor>] [--min <n>] [--max <n>] [--json]

How many connections a pool needs (Little's law): the requests arriving per second, times how
long each holds a connection, times a headroom for bursts.

  --rate <n>          requests per second at the peak
  --latency-ms <ms>   how long a request holds its connection (p95, say)
  --headroom <f>      burst factor (default 1.5)
  --min <n>           smallest size to suggest (default 1)
  --max <n>           largest size the backend allows (default 100): above it, exit code 1
  --json              the result as JSON
  -h, --help          this help`;

export async function size(args: string[]): Promise<CommandResult> {
	const flags = parseFlags(args, { rate: "string", "latency-ms": "string", headroom: "string", min: "string", max: "string", json: "boolean" });
	if (flags.help) return { code: ExitCode.ok, out: SIZE_HELP };
	const number = (name: "rate" | "latency-ms" | "headroom" | "min" | "max", fallback?: number, minimum = 0): number => {
		const raw = flags.values[name];
		if (raw === undefined) {
			if (fallback === undefined) throw new UsageError(`--${name} is required`);
			return fallback;
		}
		const value = Number(raw);
		if (!Number.isFinite(value) || value < minimum) throw new UsageError(`--${name} must be a number >= ${minimum}, got ${String(raw)}`);
		return value;
	};
	const rate = number("rate");
	const latencyMs = number("latency-ms");
	const headroom = number("headroom", 1.5, 1);
	const min = number("min", 1);
	const max = number("max", 100, 1);
	// lifeguard/config's calculator, asked without the upper bound so that a load above the backend's limit shows.
	const wanted = recommendPoolSize({ arrivalRatePerSecond: rate, holdTimeMs: latencyMs, headroom, min, max: Number.MAX_SAFE_INTEGER });
	const fits = wanted.size <= max;
	const suggested = Math.min(max, wanted.size);
	const result = { rate, latencyMs, headroom, inFlight: Math.round(wanted.concurrent * 100) / 100, needed: wanted.size, suggested, fits, max };
	const code = fits ? ExitCode.ok : ExitCode.problem;
	if (flags.values.json === true) return { code, out: JSON.stringify(result, null, 2) };
	const lines = [wanted.explanation];
	if (!fits) lines.push(`that is above the backend's limit of ${max}: shorten how long connections are held, or spread the load`);
	else lines.push(`suggested: max ${suggested}`);
	return { code, out: lines.join("\n") };
}
