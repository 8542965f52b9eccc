/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: every line must
 * be a comment, HELP, TYPE or a sample; labels are parsed with their escapes.
 */
export interface ParsedSample {
	name: string;
	labels: Record<string, string>;
	value: number;
}

export interface ParsedFamily {
	name: string;
	type: string;
	help: string;
	samples: ParsedSample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/y;

export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
	const families = new Map<string, ParsedFamily>();
	const family = (name: string) => {
		let f = families.get(name);
		if (f === undefined) families.set(name, (f = { name, type: "untyped", help: "", samples: [] }));
		return f;
	};
	for (const line of text.split("\n")) {
		if (line.trim() === "") continue;
		if (line.startsWith("# HELP ")) {
			const [, name, ...help] = line.split(" ").slice(1);
			family(name).help = help.join(" ");
			continue;
		}
		if (line.startsWith("# TYPE ")) {
			const [name, type] = line.slice(7).split(" ");
			if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(type)) throw new Error(`bad TYPE line: ${line}`);
			family(name).type = type;
			continue;
		}
		if (line.startsWith("#")) continue;
		const m = SAMPLE.exec(line);
		if (m === null) throw new Error(`not a sample line: ${line}`);
		const labels: Record<string, string> = {};
		const body = m[3] ?? "";
		LABEL.lastIndex = 0;
		while (LABEL.lastIndex < body.length) {
			const at = LABEL.lastIndex;
			const l = LABEL.exec(body);
			if (l === null) throw new Error(`bad labels at ${at} in: ${line}`);
			labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
		}
		const value = m[4] === "+Inf" ? Number.POSITIVE_INFINITY : m[4] === "-Inf" ? Number.NEGATIVE_INFINITY : Number(m[4]);
		if (Number.isNaN(value) && m[4] !== "NaN") throw new Error(`bad value in: ${line}`);
		const base = m[1].replace(/_(bucket|sum|count)$/, "");
		const owner = families.has(m[1]) ? m[1] : families.get(base)?.type === "histogram" ? base : m[1];
		family(owner).samples.push({ name: m[1], labels, value });
	}
	return families;
}

/** The one sample of `family` whose labels include all of `labels`; throws when there is none or several. */
export function sampleOf(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string>, series = name): number {
	const f = families.get(name);
	if (f === undefined) throw new Error(`no metric ${name}`);
	const found = f.samples.filter((s) => s.name === series && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
	if (found.length !== 1) throw new Error(`${found.length} samples of ${series} with ${JSON.stringify(labels)}`);
	return found[0].value;
}
