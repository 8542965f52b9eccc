/**
 * Alternating rounds for the throughput comparisons (postgres, compat, mysql): `callers`
 * concurrent loops issue queries through each contender in turn, round after round, and the
 * comparison is made round by round. Under the load other processes put on the machine a
 * round's throughput moves by a third or more; two contenders measured back to back move
 * together, so the ratio within a round is much steadier than either figure, and its median
 * over rounds ignores the rounds a load spike hit only one of them. Totals (all queries over
 * all time) would weight the slowest rounds most, which is why none is reported.
 *
 * No collection is forced between rounds. Tried (a full GC before each measurement, three runs
 * of bench/compat.bench.ts), it moved the drop-ins' ratio against their originals from about
 * 1.0 to 0.77-0.94 and their CPU ratio from 1.06 to 1.2: it bills the heavier allocator for
 * something a running service never sees (most likely regrowing the young generation after
 * every full collection). Rounds alternate instead, so each contender follows itself as often
 * as it follows the other, and each pays for the garbage it leaves as much as it inherits.
 */
import { fork } from "node:child_process";

export interface Contender {
	name: string;
	query(): Promise<unknown>;
	close(): Promise<void>;
	/** Runs a round itself (a contender in another process); otherwise `measure` drives `query`. */
	round?(ops: number, callers: number): Promise<Sample>;
}

export interface Sample {
	opsPerSec: number;
	/** This process's CPU time (user + system) per query: what the client side costs, whatever else the machine does. */
	cpuMicrosPerOp: number;
}

export interface RoundsOptions {
	callers: number;
	rounds: number;
	opsPerRound: number;
	/** Rounds run first and discarded: JIT tiers and the servers' caches settle. */
	warmupRounds: number;
}

/** `callers` loops issue `ops` queries in all; returns queries per second and this process's CPU time per query. */
export async function measure(c: Contender, ops: number, callers: number): Promise<Sample> {
	let started = 0;
	const cpu0 = process.cpuUsage();
	const t0 = performance.now();
	const loop = async () => {
		while (started < ops) {
			started++;
			await c.query();
		}
	};
	await Promise.all(Array.from({ length: callers }, loop));
	const elapsedMs = performance.now() - t0;
	const cpu = process.cpuUsage(cpu0);
	return { opsPerSec: ops / (elapsedMs / 1000), cpuMicrosPerOp: (cpu.user + cpu.system) / ops };
}

export function median(xs: number[]): number {
	return quantile(xs, 0.5);
}

/** Linear interpolation between the closest ranks. */
export function quantile(xs: number[], q: number): number {
	const s = [...xs].sort((a, b) => a - b);
	const at = (s.length - 1) * q;
	const lo = Math.floor(at);
	const hi = Math.ceil(at);
	return s[lo] + (s[hi] - s[lo]) * (at - lo);
}

/**
 * Runs the contenders in rounds, rotating who goes first (with two: A B, B A, A B, …), and
 * returns each one's samples by name, round `i` of each at index `i`.
 */
export async function alternate(contenders: Contender[], o: RoundsOptions): Promise<Record<string, Sample[]>> {
	const samples: Record<string, Sample[]> = Object.fromEntries(contenders.map((c) => [c.name, []]));
	for (let round = -o.warmupRounds; round < o.rounds; round++) {
		const first = ((round % contenders.length) + contenders.length) % contenders.length;
		for (let i = 0; i < contenders.length; i++) {
			const c = contenders[(first + i) % contenders.length];
			const sample = c.round === undefined ? await measure(c, o.opsPerRound, o.callers) : await c.round(o.opsPerRound, o.callers);
			if (round >= 0) samples[c.name].push(sample);
		}
	}
	return samples;
}

/**
 * `alternate` over `blocks` fresh sets of contenders (made by `open`, closed after their block),
 * `o.rounds` split between them; the samples of all blocks, by name. For contenders in processes
 * of their own: a process can settle into a state that lasts its lifetime (measured with mysql2's
 * pool and the drop-in: in about half the runs the scavenges take 10-20 times longer, and the
 * process's CPU per query is a third higher, from start to end), so one pair of processes
 * samples that state once; several pairs sample it as often as a service restarting would.
 */
export async function alternateInBlocks(open: (block: number) => Promise<Contender[]>, o: RoundsOptions, blocks: number): Promise<Record<string, Sample[]>> {
	const all: Record<string, Sample[]> = {};
	const perBlock = Math.ceil(o.rounds / blocks);
	for (let b = 0; b < blocks; b++) {
		const contenders = await open(b);
		try {
			const samples = await alternate(contenders, { ...o, rounds: Math.min(perBlock, o.rounds - b * perBlock) });
			for (const [name, xs] of Object.entries(samples)) all[name] = [...(all[name] ?? []), ...xs];
		} finally {
			for (const c of contenders) await c.close();
		}
	}
	return all;
}

/** `ours` against `theirs`, round by round: throughput ratio (higher is better) and CPU ratio (lower is better). */
export function compare(ours: Sample[], theirs: Sample[]): Record<string, unknown> {
	const ratios = ours.map((s, i) => s.opsPerSec / theirs[i].opsPerSec);
	const cpuRatios = ours.map((s, i) => s.cpuMicrosPerOp / theirs[i].cpuMicrosPerOp);
	const round3 = (x: number) => Number(x.toFixed(3));
	return {
		/** Median over rounds of ours ÷ theirs in queries/s. */
		ratio: round3(median(ratios)),
		/** The middle half of the per-round ratios: how much the rounds agree. */
		ratioQuartiles: [round3(quantile(ratios, 0.25)), round3(quantile(ratios, 0.75))],
		/** Median over rounds of ours ÷ theirs in client CPU per query (lower is better). */
		cpuRatio: round3(median(cpuRatios)),
	};
}

/** The median queries/s and client CPU per query of each contender. */
export function summarize(samples: Record<string, Sample[]>): { medianOpsPerSec: Record<string, number>; medianCpuMicrosPerOp: Record<string, number> } {
	const entries = Object.entries(samples);
	return {
		medianOpsPerSec: Object.fromEntries(entries.map(([name, xs]) => [name, Math.round(median(xs.map((s) => s.opsPerSec)))])),
		medianCpuMicrosPerOp: Object.fromEntries(entries.map(([name, xs]) => [name, Number(median(xs.map((s) => s.cpuMicrosPerOp)).toFixed(2))])),
	};
}

/** The JSON a two-contender suite reports: `fields` (query, pool size…), the rounds, each one's medians, ours against theirs and the target. */
export function report(
	samples: Record<string, Sample[]>,
	ours: string,
	theirs: string,
	o: RoundsOptions,
	fields: Record<string, unknown>,
): Record<string, unknown> {
	return {
		...fields,
		callers: o.callers,
		rounds: o.rounds,
		opsPerRound: o.opsPerRound,
		...summarize(samples),
		...compare(samples[ours], samples[theirs]),
		/** For `ratio`: ours must keep at least this share of theirs' throughput. */
		target: 0.98,
	};
}

/**
 * A contender in a process of its own, so that neither contender's garbage, timers or shared
 * driver code touch the other's (one pool per process, as in a service). `script` opens its
 * pool from `args`, sends "ready", then answers each `{ ops, callers }` message with the Sample
 * of a round it ran itself (`measure` in its own process) and exits on `{ end: true }`. `name`
 * labels the samples: two processes of the same pool under two names make an A/A control.
 */
export async function isolated(script: URL, args: string[], name: string = args[0]): Promise<Contender> {
	const child = fork(script, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
	let pending: { resolve(message: unknown): void; reject(error: Error): void } | undefined;
	child.on("message", (message) => pending?.resolve(message));
	child.on("exit", (code) => pending?.reject(new Error(`bench: the ${name} process exited (${code})`)));
	const next = () => new Promise<unknown>((resolve, reject) => (pending = { resolve, reject }));
	const first = await next();
	if (first !== "ready") throw new Error(`bench: the ${name} process did not start: ${JSON.stringify(first)}`);
	return {
		name,
		query: () => Promise.reject(new Error("isolated contender: rounds run in its process")),
		round: (ops, callers) => {
			const reply = next();
			child.send({ ops, callers });
			return reply as Promise<Sample>;
		},
		close: async () => {
			pending = undefined;
			if (child.exitCode !== null) return;
			const exited = new Promise((resolve) => child.once("exit", resolve));
			child.send({ end: true });
			await exited;
		},
	};
}

/**
 * Two contenders of `script`, each in a process of its own, over `blocks` fresh pairs of
 * processes (see alternateInBlocks): `[args, name]` for each; two of the same args under two
 * names make an A/A control. Which of the two is started first alternates from block to block,
 * as the order of rounds does: the first process of a pair gets its heap and its place on the
 * cores before the other, and its servers' backends are opened first.
 */
export function isolatedPair(script: URL, a: [string[], string], b: [string[], string], o: RoundsOptions, blocks: number): Promise<Record<string, Sample[]>> {
	return alternateInBlocks(
		async (block) => {
			const [x, y] = block % 2 === 0 ? [a, b] : [b, a];
			const first = await isolated(script, x[0], x[1]);
			let second: Contender;
			try {
				second = await isolated(script, y[0], y[1]);
			} catch (error) {
				// The first child would keep the bench alive over its IPC channel.
				await first.close();
				throw error;
			}
			return block % 2 === 0 ? [first, second] : [second, first];
		},
		o,
		blocks,
	);
}

/**
 * The child side of `isolated`: after `open` has made the pool and warmed it, answers the
 * parent's rounds with `measure` over `query` until told to end.
 */
export function serveRounds(name: string, query: () => Promise<unknown>, end: () => Promise<void>): void {
	const send = (message: unknown) => process.send?.(message);
	process.on("message", async (message: { ops?: number; callers?: number; end?: true }) => {
		if (message.end) {
			await end();
			process.disconnect();
			return;
		}
		send(await measure({ name, query, close: end }, message.ops ?? 0, message.callers ?? 1));
	});
	send("ready");
}
