/**
 * Instructions per query, counted rather than timed: `npm run bench:instructions` runs
 * bench/instructions-contender.ts under valgrind's callgrind for the mysql2 drop-in and mysql2's
 * own pool. Each run warms up, then has callgrind dump what it counted so far (`callgrind_control
 * --dump`, which restarts the counters), runs the measured queries and exits; the final dump
 * divided by the measured queries is the figure, so start-up and warm-up are left out and one process gives one figure. Instruction
 * counts do not move with the machine's load, which moves this machine's timed rounds by a third
 * either side, so a change of 1-2 % in what the client executes per query can be seen. Each pool
 * is counted twice, in two processes: a process can settle into a slower state for its whole life
 * (docs/benchmarks.md), and two runs show when one did.
 *
 * Grouped: `gc` (scavenges and marking), `compile` (the optimizing compilers, still finishing), and
 * `execution`, everything else: the figure to compare. `lifeguard` is the part of the
 * JIT-compiled code that is lifeguard's own (src/, from V8's --perf-basic-prof map), with what V8
 * inlined into it. Caveat: under valgrind the client runs about 40× slower, so the core times
 * every lease (it times about 10 000 a second, docs/core.md), which a client at full speed does
 * for a third of them; the drop-in's figure is the higher for it.
 *
 * Needs valgrind (Debian's package); `INSTRUCTIONS_KEEP=1` keeps the callgrind outputs for
 * callgrind_annotate. Takes about eight minutes: eight runs, two at a time. Last line of stdout: JSON.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
/** lifeguard's own sources, as V8's perf map names them (file:// URLs of src/). */
const SRC = new URL("../src/", import.meta.url).pathname;
const WARMUP = Number(process.env.INSTRUCTIONS_WARMUP ?? 20_000);
const MEASURED = Number(process.env.INSTRUCTIONS_MEASURED ?? 30_000);
const RUNS = 2;
const CONTENDERS = [
	{ label: "compat/mysql2", pool: "compat/mysql2", pollute: false },
	{ label: "mysql2 pool", pool: "mysql2 pool", pollute: false },
	{ label: "compat/mysql2, after other pools in the process", pool: "compat/mysql2", pollute: true },
	{ label: "mysql2 pool, after other pools in the process", pool: "mysql2 pool", pollute: true },
];

type Group = "gc" | "compile" | "execution";
interface Counted {
	total: number;
	groups: Record<Group, number>;
	lifeguard: number;
}

function groupOf(fn: string): Group {
	if (/Scaveng|Marking|Sweep|MarkCompact|Evacuat|BodyDescriptor|heap::|Heap::|MemoryAllocator|Remembered|SlotSet|MinorMS/.test(fn)) return "gc";
	if (/compiler::|[Mm]aglev|turboshaft|[Bb]aseline|Parser|Scanner|BytecodeGenerator|Zone|wasm/.test(fn)) return "compile";
	return "execution";
}

/**
 * V8's perf map: [start, size, name], sorted by start. The map only grows: code freed by the GC
 * leaves its line, and newer code at the same address gets a later one, which wins here.
 */
function readPerfMap(path: string): [number, number, string][] {
	if (!existsSync(path)) return [];
	const byStart = new Map<number, [number, number, string]>();
	for (const line of readFileSync(path, "utf8").split("\n")) {
		if (line === "") continue;
		const [start, size, ...name] = line.split(" ");
		const at = Number.parseInt(start, 16);
		byStart.set(at, [at, Number.parseInt(size, 16), name.join(" ")]);
	}
	return [...byStart.values()].sort((a, b) => a[0] - b[0]);
}

function nameAt(map: [number, number, string][], address: number): string | undefined {
	let lo = 0;
	let hi = map.length - 1;
	while (lo <= hi) {
		const mid = (lo + hi) >> 1;
		if (map[mid][0] <= address) lo = mid + 1;
		else hi = mid - 1;
	}
	const e = map[hi];
	return e !== undefined && address < e[0] + e[1] ? e[2] : undefined;
}

async function count(dir: string, pool: string, pollute: boolean, attempt: number): Promise<Counted> {
	const out = join(dir, `${pool.replace(/\W/g, "_")}-${pollute ? 1 : 0}-${attempt}`);
	const script = new URL("./instructions-contender.ts", import.meta.url).pathname;
	const child = spawn(
		"valgrind",
		["--tool=callgrind", `--callgrind-out-file=${out}.cg`, process.execPath, "--perf-basic-prof", script, pool, String(WARMUP), String(MEASURED)],
		{ env: { ...process.env, POLLUTE: pollute ? "1" : "0" }, stdio: ["pipe", "pipe", "pipe"] },
	);
	let stderr = "";
	child.stderr.on("data", (chunk) => (stderr += chunk));
	const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
	let stdout = "";
	child.stdout.on("data", (chunk) => {
		stdout += chunk;
		if (!stdout.includes("warm\n")) return;
		stdout = "";
		// Warm: dump what came so far (it goes to a file of its own and the counters restart), then run the measured queries.
		run("callgrind_control", ["--dump", String(child.pid)]).then(
			() => child.stdin.end("go\n"),
			(error) => {
				stderr += `callgrind_control failed: ${error}\n`;
				child.kill();
			},
		);
	});
	const code = await exited;
	if (code !== 0) throw new Error(`instructions: ${pool} under callgrind exited ${code}:\n${stderr.slice(-2000)}`);
	const map = readPerfMap(`/tmp/perf-${child.pid}.map`);
	rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
	const { stdout: annotated } = await run("callgrind_annotate", ["--inclusive=no", "--threshold=100", `${out}.cg`], { maxBuffer: 256 * 1024 * 1024 });
	const counted: Counted = { total: 0, groups: { gc: 0, compile: 0, execution: 0 }, lifeguard: 0 };
	for (const line of annotated.split("\n")) {
		const m = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$/.exec(line);
		if (m === null || !/^\d/.test(m[1])) continue;
		const n = Number(m[1].replaceAll(",", ""));
		const fn = m[2];
		if (fn.startsWith("PROGRAM TOTALS")) {
			counted.total = n;
			continue;
		}
		const group = groupOf(fn);
		if (group !== "execution") counted.groups[group] += n;
		const jit = /^\?\?\?:0x([0-9a-f]+) /.exec(fn);
		if (jit !== null && nameAt(map, Number.parseInt(jit[1], 16))?.includes(SRC)) counted.lifeguard += n;
	}
	// The self cost callgrind_annotate gives the functions that were on the stack when the counters
	// were reset (main, the event loop) is not their own; the totals are right, so execution is the rest.
	counted.groups.execution = counted.total - counted.groups.gc - counted.groups.compile;
	return counted;
}

/** Per measured query, rounded. */
function perQuery(c: Counted): Record<string, number> {
	const per = (n: number) => Math.round(n / MEASURED);
	return { total: per(c.total), execution: per(c.groups.execution), gc: per(c.groups.gc), compile: per(c.groups.compile), lifeguard: per(c.lifeguard) };
}

try {
	await run("valgrind", ["--version"]);
	await run("callgrind_control", ["--version"]);
} catch {
	console.error("bench:instructions needs valgrind with callgrind_control (apt-get install valgrind)");
	process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), "lifeguard-instructions-"));
const results: Record<string, { runs: Record<string, number>[]; execution: number }> = {};
try {
	for (const c of CONTENDERS) {
		console.error(`counting ${c.label}…`);
		const runs = (await Promise.all(Array.from({ length: RUNS }, (_, i) => count(dir, c.pool, c.pollute, i)))).map(perQuery);
		// The lower run: a process that settled into the slower state counts more, never fewer.
		results[c.label] = { runs, execution: Math.min(...runs.map((r) => r.execution)) };
		console.error(`${c.label}: ${JSON.stringify(results[c.label])}`);
	}
} finally {
	if (process.env.INSTRUCTIONS_KEEP === "1") console.error(`callgrind outputs kept in ${dir}`);
	else rmSync(dir, { recursive: true, force: true });
}
const ratio = (a: string, b: string) => Number((results[a].execution / results[b].execution).toFixed(3));
console.log(
	JSON.stringify({
		node: process.version,
		date: new Date().toISOString(),
		query: "SELECT 1",
		callers: 16,
		max: 10,
		warmup: WARMUP,
		measured: MEASURED,
		instructionsPerQuery: results,
		/** The drop-in's executed instructions per query over mysql2's pool's (lower is better): the CPU side of the ≥ 0.98× target. */
		executionRatio: ratio("compat/mysql2", "mysql2 pool"),
		executionRatioAfterOtherPools: ratio("compat/mysql2, after other pools in the process", "mysql2 pool, after other pools in the process"),
	}),
);
