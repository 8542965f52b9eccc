import { readFileSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { ConfigProblem } from "../core/errors.ts";

/** A parsed config file: its plain value and where each key sits (`pools.orders.max` → `lifeguard.yaml:7:5`). */
export interface YamlSource {
	value: unknown;
	/** Dotted path → "file:line:column". */
	positions: Map<string, string>;
	/** Paths whose value came from a `${VAR}` substitution. */
	substituted: Set<string>;
}

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
/** One well-formed reference starting exactly at lastIndex. */
const VARIABLE_AT = /\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}/y;

/**
 * What is wrong with the first `${` of `value` that is no well-formed reference, or undefined.
 * Such text used to pass through as written (`url: ${DB_URL` connected to the literal string), so
 * a typo showed up as a baffling connect error far from the file. The message never quotes the
 * value: it may hold a secret.
 */
function malformedReference(value: string): string | undefined {
	for (let at = value.indexOf("${"); at !== -1; at = value.indexOf("${", at + 2)) {
		VARIABLE_AT.lastIndex = at;
		if (VARIABLE_AT.test(value)) continue;
		const column = `at character ${at + 1} of the value`;
		const how =
			// biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${NAME} syntax, not a template
			"write ${NAME} or ${NAME:-default} (a name is letters, digits and _, not starting with a digit); a literal ${ can come from an environment variable";
		return value.indexOf("}", at) === -1 ? `unterminated \${ ${column} (no closing }): ${how}` : `malformed variable reference ${column}: ${how}`;
	}
	return undefined;
}

/** Reads and parses a YAML file; syntax errors, unset variables and unreadable files become problems (never the file's content). */
export function readYamlFile(file: string, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): YamlSource | undefined {
	let text: string;
	try {
		text = readFileSync(file, "utf8");
	} catch (error) {
		const code = (error as { code?: string }).code ?? "unreadable";
		problems.push({ path: "(file)", message: `cannot read the config file (${code})`, source: file });
		return undefined;
	}
	return parseYaml(text, file, env, problems);
}

/** Parses YAML text named `file` in messages, substituting `${VAR}` and `${VAR:-default}` from `env` in string values. */
export function parseYaml(text: string, file: string, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): YamlSource | undefined {
	const lineCounter = new LineCounter();
	const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
	if (doc.errors.length > 0) {
		for (const error of doc.errors) {
			const at = lineCounter.linePos(error.pos[0]);
			// The YAML library's message may quote the offending text; only its code is shown.
			problems.push({ path: "(syntax)", message: `invalid YAML (${error.code})`, source: `${file}:${at.line}:${at.col}` });
		}
		return undefined;
	}
	const positions = new Map<string, string>();
	const where = (node: { range?: [number, number, number] | null } | null | undefined) => {
		const at = lineCounter.linePos(node?.range?.[0] ?? 0);
		return `${file}:${at.line}:${at.col}`;
	};
	const walk = (node: unknown, path: string) => {
		if (isMap(node)) {
			for (const pair of node.items) {
				const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
				const child = path === "" ? key : `${path}.${key}`;
				positions.set(child, where(pair.key as Node));
				walk(pair.value, child);
			}
		} else if (isSeq(node)) {
			node.items.forEach((item, i) => {
				positions.set(`${path}.${i}`, where(item as Node));
				walk(item, `${path}.${i}`);
			});
		}
	};
	walk(doc.contents, "");
	const substituted = new Set<string>();
	const substitute = (value: unknown, path: string): unknown => {
		if (typeof value === "string") {
			if (!value.includes("${")) return value;
			substituted.add(path);
			const malformed = malformedReference(value);
			if (malformed !== undefined) {
				problems.push({ path, message: malformed, source: positions.get(path) ?? file });
				// Left as written: the load fails on this problem anyway, and an emptied value would add a second one at the same key.
				return value;
			}
			return value.replace(VARIABLE, (_, name: string, fallback: string | undefined) => {
				const set = env[name];
				if (set !== undefined && set !== "") return set;
				if (fallback !== undefined) return fallback;
				problems.push({
					path,
					message: `environment variable ${name} is not set (write \${${name}:-default} for a default)`,
					source: positions.get(path) ?? file,
				});
				return "";
			});
		}
		if (Array.isArray(value)) return value.map((v, i) => substitute(v, `${path}.${i}`));
		if (value !== null && typeof value === "object") {
			return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, path === "" ? k : `${path}.${k}`)]));
		}
		return value;
	};
	let value: unknown;
	try {
		value = doc.toJS({ maxAliasCount: 100 });
	} catch (error) {
		// An alias without its anchor, or an alias bomb: the library's message names the alias only.
		problems.push({ path: "(syntax)", message: `invalid YAML (${(error as Error).name}: aliases)`, source: file });
		return undefined;
	}
	return { value: substitute(value, ""), positions, substituted };
}
