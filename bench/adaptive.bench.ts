/**
 * p99 acquire wait with adaptive sizing against a fixed max holding the same average number of
 * connections (the same memory), under the same stepped open-loop load (arrivals at a set rate
 * whatever the pool does: low → high → low, twice). Creates cost 5 ms, leases are held 10 ms;
 * one process; the contenders alternate over two rounds.
 */
import { adaptPoolSize } from "../src/distributed/index.ts";
import { createPool } from "../src/index.ts";

export const name = "adaptive";

const CREATE_MS = 5;
const HOLD_MS = 10;
/** [arrivals per second, duration ms]: two bursts (about 16 busy connections) between lulls (about 1). */
const PHASES: [number, number][] = [
	[100, 1_000],
	[1_600, 1_000],
	[100, 1_500],
	[1_600, 1_000],
	[100, 1_500],
];
const CEILING = 30;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Outcome {
	p99WaitMs: number;
	p90WaitMs: number;
	meanConnections: number;
	peakConnections: number;
	acquires: number;
}

async function drive(max: number, adaptive: boolean): Promise<Outcome> {
	let next = 0;
	let open = 0;
	let peak = 0;
	const pool = createPool<number>({
		name: adaptive ? "adaptive" : `fixed-${max}`,
		max,
		idleTimeoutMs: adaptive ? 300 : 600_000,
		create: async () => {
			await sleep(CREATE_MS);
			open++;
			peak = Math.max(peak, open);
			return ++next;
		},
		destroy: () => {
			open--;
		},
	});
	const sizer = adaptive ? adaptPoolSize(pool, { floor: 2, ceiling: CEILING, intervalMs: 100, shrinkAfter: 5 }) : undefined;
	let sum = 0;
	let samples = 0;
	const sampler = setInterval(() => {
		sum += open;
		samples++;
	}, 10);
	const calls: Promise<void>[] = [];
	const call = async () => {
		const lease = await pool.acquire({ timeoutMs: 10_000 });
		await sleep(HOLD_MS);
		lease.release();
	};
	for (const [rate, ms] of PHASES) {
		const started = performance.now();
		let sent = 0;
		// Timers are coarse: each tick sends what the rate owes since the phase began.
		while (performance.now() - started < ms) {
			const owed = Math.floor(((performance.now() - started) * rate) / 1_000) - sent;
			for (let i = 0; i < owed; i++) calls.push(call());
			sent += owed;
			await sleep(2);
		}
	}
	await Promise.all(calls);
	clearInterval(sampler);
	sizer?.stop();
	const stats = pool.stats();
	await pool.close();
	return { p99WaitMs: stats.waitMs.p99, p90WaitMs: stats.waitMs.p90, meanConnections: sum / samples, peakConnections: peak, acquires: stats.acquires.ok };
}

/** Rounds of the three contenders, alternating, so a load change on the shared machine hits them alike. */
const ROUNDS = 2;

export async function run(): Promise<Record<string, unknown>> {
	const rounds: Record<string, unknown>[] = [];
	let sameMemory = 0;
	for (let round = 0; round < ROUNDS; round++) {
		const adaptive = await drive(2, true);
		// The first round's adaptive mean sets the fixed pool of the same memory for every round.
		if (round === 0) sameMemory = Math.max(1, Math.round(adaptive.meanConnections));
		const fixed = await drive(sameMemory, false);
		const fixedCeiling = await drive(CEILING, false);
		rounds.push({
			adaptive,
			[`fixed max ${sameMemory} (same mean connections)`]: fixed,
			[`fixed max ${CEILING} (the ceiling)`]: fixedCeiling,
			"p99 ratio fixed same memory / adaptive": fixed.p99WaitMs / Math.max(adaptive.p99WaitMs, 0.001),
		});
	}
	return { load: "open loop 100 → 1600 → 100 → 1600 → 100 arrivals/s, hold 10 ms, create 5 ms", rounds };
}
