/**
 * `npm run bench`: every suite in bench/*.bench.ts, human-readable progress on stderr, one
 * JSON object as the last line of stdout. `npm run bench -- core postgres` runs only those.
 * A suite module exports `name` and `run(): Promise<Record<string, unknown>>`.
 */
import { readdirSync } from "node:fs";

interface Suite {
	name: string;
	run(): Promise<Record<string, unknown>>;
}

const dir = new URL(".", import.meta.url);
const files = readdirSync(dir)
	.filter((f) => f.endsWith(".bench.ts"))
	.sort();
const suites: Suite[] = [];
for (const file of files) suites.push((await import(new URL(file, dir).href)) as Suite);

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
for (const name of wanted) {
	if (!suites.some((s) => s.name === name)) {
		console.error(`unknown suite "${name}"; known: ${suites.map((s) => s.name).join(", ")}`);
		process.exit(2);
	}
}
const out: Record<string, unknown> = { node: process.version, date: new Date().toISOString() };
for (const suite of suites) {
	if (wanted.length > 0 && !wanted.includes(suite.name)) continue;
	console.error(`running ${suite.name}…`);
	const result = await suite.run();
	console.error(`${suite.name}: ${JSON.stringify(result, null, 2)}`);
	out[suite.name] = result;
}
console.log(JSON.stringify(out));
