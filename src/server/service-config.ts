/**
 * The service's own settings (the `service:` section of the config file): where it listens, its
 * data directory, who may read `/metrics`, body limits, SQL sessions. Pools come from the
 * `pools:` section (see ./pools-from-config.ts). Every problem is reported at once, with its path.
 */
import { z } from "zod";
import { didYouMeanKey } from "../core/did-you-mean.ts";
import { ConfigError, type ConfigProblem } from "../core/errors.ts";
import { SQL_SESSION_DEFAULTS } from "./sql-sessions.ts";

export const SERVICE_DEFAULTS = {
	host: "127.0.0.1",
	port: 7070,
	dataDir: ".lifeguard",
	metricsPublic: false,
	bodyLimitBytes: 1_048_576,
	shutdownTimeoutMs: 10_000,
	maxPoolSize: 100,
	notReadyGraceMs: 1_000,
	gatewayBodyLimitBytes: 16_777_216,
} as const;

const ms = z.number().int().min(1);

export const ServiceSection = z
	.object({
		host: z.string().min(1).default(SERVICE_DEFAULTS.host),
		port: z.number().int().min(0).max(65_535).default(SERVICE_DEFAULTS.port),
		dataDir: z.string().min(1).default(SERVICE_DEFAULTS.dataDir),
		/** `/metrics` without the admin token, for scrapers inside a trusted network. */
		metricsPublic: z.boolean().default(SERVICE_DEFAULTS.metricsPublic),
		bodyLimitBytes: z.number().int().min(1_024).default(SERVICE_DEFAULTS.bodyLimitBytes),
		/** How long work in flight may finish on SIGTERM before connections are closed. */
		shutdownTimeoutMs: z.number().int().min(0).default(SERVICE_DEFAULTS.shutdownTimeoutMs),
		/** On shutdown, how long `/health/ready` fails while requests are still served, so load balancers stop sending first. */
		notReadyGraceMs: z.number().int().min(0).default(SERVICE_DEFAULTS.notReadyGraceMs),
		/** Body limit of the LLM gateway's endpoints (prompts with images are large). */
		gatewayBodyLimitBytes: z.number().int().min(1_024).default(SERVICE_DEFAULTS.gatewayBodyLimitBytes),
		/** The largest `max` an admin resize may set. */
		maxPoolSize: z.number().int().min(1).default(SERVICE_DEFAULTS.maxPoolSize),
		sessions: z
			.object({
				idleTimeoutMs: ms.default(SQL_SESSION_DEFAULTS.idleTimeoutMs),
				maxSessions: z.number().int().min(1).default(SQL_SESSION_DEFAULTS.maxSessions),
				statementTimeoutMs: ms.default(SQL_SESSION_DEFAULTS.statementTimeoutMs),
				maxStatementTimeoutMs: ms.default(SQL_SESSION_DEFAULTS.maxStatementTimeoutMs),
			})
			.strict()
			.prefault({}),
	})
	.strict();
export type ServiceSettings = z.infer<typeof ServiceSection>;

/** The `gateway:` section: the client keys callers present (never the providers' keys). */
export const GatewaySection = z
	.object({
		keys: z
			.array(
				z
					.object({
						name: z.string().min(1),
						key: z.string().min(16, "must be at least 16 characters long"),
						models: z.array(z.string().min(1)).optional(),
						rpm: z.number().int().min(1).optional(),
						tpm: z.number().int().min(1).optional(),
					})
					.strict(),
			)
			.default([]),
		/** LLM clients by name: lifeguard/llm's options (providers, models with routing and fallbacks), checked by createLlmClient. */
		llm: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
	})
	.strict();
export type GatewaySettings = z.infer<typeof GatewaySection>;

/**
 * Where a section came from: a file's name, and, when it was read from YAML, where each dotted path
 * sits (`file:line:column`), which values came from `${VAR}` and which paths already have a problem
 * (an unset variable) that a schema message would only repeat.
 */
export interface SectionOrigin {
	source: string;
	positions?: ReadonlyMap<string, string>;
	substituted?: ReadonlySet<string>;
	reported?: ReadonlySet<string>;
}

export function checkGateway(section: unknown, origin: string | SectionOrigin = "code"): GatewaySettings {
	return checkSection(GatewaySection, "gateway", section ?? {}, typeof origin === "string" ? { source: origin } : origin);
}

export function checkService(section: unknown, origin: string | SectionOrigin = "code"): ServiceSettings {
	return checkSection(ServiceSection, "service", section ?? {}, typeof origin === "string" ? { source: origin } : origin);
}

function checkSection<S extends z.ZodType>(schema: S, prefix: string, section: unknown, origin: SectionOrigin): z.infer<S> {
	let parsed = schema.safeParse(section);
	if (!parsed.success) {
		// `${VAR}` always yields text: where the schema wants a number or a boolean, the variable's text is read as one (`port: ${PORT:-7070}`), as lifeguard/config does in pool sections.
		const coerced = coerceSubstituted(section, parsed.error, prefix, origin.substituted);
		if (coerced !== undefined) parsed = schema.safeParse(coerced);
	}
	if (parsed.success) return parsed.data;
	const problems = problemsOf(parsed.error, prefix, origin.source, schema)
		.filter((p) => !origin.reported?.has(p.path))
		.map((p) => ({ ...p, source: positionOf(p.path, origin) }));
	throw new ConfigError("lifeguard serve", problems);
}

/** A copy of `section` with substituted strings read as numbers or booleans where the schema asked for one; undefined when there is none. */
function coerceSubstituted(section: unknown, error: z.ZodError, prefix: string, substituted: ReadonlySet<string> | undefined): unknown {
	if (substituted === undefined || substituted.size === 0) return undefined;
	const copy = structuredClone(section) as Record<PropertyKey, unknown>;
	let changed = false;
	for (const issue of error.issues) {
		if (issue.code !== "invalid_type" || (issue.expected !== "number" && issue.expected !== "boolean") || issue.path.length === 0) continue;
		if (!substituted.has([prefix, ...issue.path.map(String)].join("."))) continue;
		const parent = issue.path.slice(0, -1).reduce<unknown>((node, step) => (node as Record<PropertyKey, unknown> | undefined)?.[step], copy) as
			| Record<PropertyKey, unknown>
			| undefined;
		const last = issue.path[issue.path.length - 1] as PropertyKey;
		const text = parent?.[last];
		if (parent === undefined || typeof text !== "string") continue;
		const trimmed = text.trim();
		if (issue.expected === "number" && /^-?\d+(\.\d+)?$/.test(trimmed)) parent[last] = Number(trimmed);
		else if (issue.expected === "boolean" && /^(true|false)$/i.test(trimmed)) parent[last] = trimmed.toLowerCase() === "true";
		else continue;
		changed = true;
	}
	return changed ? copy : undefined;
}

/** The position of `path` in the file, or of its nearest ancestor there (a key the file lacks sits in its parent), else the file. */
function positionOf(path: string, origin: SectionOrigin): string {
	if (origin.positions === undefined) return origin.source;
	for (let at = path; at !== ""; at = at.includes(".") ? at.slice(0, at.lastIndexOf(".")) : "") {
		const position = origin.positions.get(at);
		if (position !== undefined) return position;
	}
	return origin.source;
}

/** zod's issues as config problems, each with its dotted path. Values are never quoted: one may be a secret. */
export function problemsOf(error: z.ZodError, prefix: string, source: string, schema?: z.ZodType): ConfigProblem[] {
	return error.issues.flatMap((issue) => {
		const at = [prefix, ...issue.path.map(String)];
		if (issue.code === "unrecognized_keys") {
			const known = knownKeys(schema, issue.path);
			return issue.keys.map((key) => {
				const guess = didYouMeanKey(key, known);
				return { path: [...at, key].join("."), message: `unknown key${guess === undefined ? " (check the spelling)" : `; did you mean "${guess}"?`}`, source };
			});
		}
		return [{ path: at.join("."), message: issue.message, source }];
	});
}

/** The keys a zod object schema knows at `path` (through arrays and defaults), for "did you mean". */
function knownKeys(schema: z.ZodType | undefined, path: readonly PropertyKey[]): string[] {
	let node: unknown = schema;
	for (const step of path) {
		node = unwrap(node);
		if (node instanceof z.ZodArray) node = unwrap(node.element);
		if (typeof step === "number") continue;
		node = node instanceof z.ZodObject ? (node.shape as Record<string, unknown>)[String(step)] : undefined;
	}
	node = unwrap(node);
	if (node instanceof z.ZodArray) node = unwrap(node.element);
	return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

/** Through `.default()`, `.prefault()` and `.optional()` to the schema they wrap. */
function unwrap(node: unknown): unknown {
	let current = node;
	for (let i = 0; i < 5; i++) {
		const inner = (current as { def?: { innerType?: unknown } } | undefined)?.def?.innerType;
		if (inner === undefined) break;
		current = inner;
	}
	return current;
}
