/**
 * Options of the ComfyUI pool, seed 000's ComfyUIConfig, their defaults, and the validation
 * that lists every problem at once.
 */
import type { Dispatcher } from "undici";
import { durationProblem } from "../../core/duration.ts";
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import { parseConnectionUrl } from "../kit/connection-url.ts";

/** How the pool picks an instance for the next job among those up with a free slot. */
export const ChoiceStrategy = {
	/** The fewest prompts queued there (ComfyUI's live `queue_remaining`, other clients' included, plus ours). */
	leastQueued: "leastQueued",
	/** An instance with nothing queued or running first, then the least queued. */
	idleFirst: "idleFirst",
	roundRobin: "roundRobin",
} as const;
export type ChoiceStrategy = (typeof ChoiceStrategy)[keyof typeof ChoiceStrategy];

export type ComfyUIAuth = { username: string; password: string } | { token: string };

export interface ComfyUIInstanceConfig {
	/** `http(s)://host:port[/api path]`; credentials in the URL become basic auth (never shown). */
	url: string;
	/** Label in statistics, metrics and errors. Default: host:port. */
	name?: string;
	auth?: ComfyUIAuth;
	/** Prompts the pool keeps on this instance at once. Default the pool's `concurrency`. */
	concurrency?: number;
	/** Check TLS certificates (only for the pool's own Agent and WebSocket). Default true. */
	verifyTls?: boolean;
}

export interface ComfyUIPoolOptions {
	/** Shown in errors, statistics and metrics. Default "comfyui". */
	name?: string;
	instances: readonly (string | ComfyUIInstanceConfig)[];
	/** Prompts per instance at once. Default 1: ComfyUI runs one prompt at a time, so more only queue there, where no other instance can take them. */
	concurrency?: number;
	/** Default "leastQueued". */
	strategy?: ChoiceStrategy;
	/** A job's deadline, queue wait included. Default 600 000 (10 min). */
	timeoutMs?: number;
	/** No message about a job for this long: it is checked (history, queue), then failed or re-queued. Default 60 000. */
	stallTimeoutMs?: number;
	/** Instances a job may be tried on when one stalls before starting or dies. Default 3. */
	maxAttempts?: number;
	/** After a workflow failed or stalled on an instance, that instance is not chosen for it for this long. Default 60 000. */
	cooldownMs?: number;
	/** GET /system_stats this often on every instance that is up. Default 10 000. */
	healthCheckIntervalMs?: number;
	/** First delay before probing an instance that went down; doubles per failure. Default 500. */
	probeInitialMs?: number;
	/** Ceiling of the probe delay. Default 30 000. */
	probeMaxMs?: number;
	/** One HTTP call's deadline. Default 30 000. */
	requestTimeoutMs?: number;
	/** WebSocket ping interval (ComfyUI sends no heartbeat; it answers pings). 0 disables. Default 10 000. */
	pingIntervalMs?: number;
	/** No pong within this: the socket is half-open, the instance is taken out. Default 5 000. */
	pongTimeoutMs?: number;
	/** Jobs waiting for a slot; more are refused at once (POOL_QUEUE_FULL). Default 1 000. */
	maxQueued?: number;
	/** Fetch image bytes before `run()` resolves ("eager"), or leave `image.fetch()` to the caller ("lazy"). Default "eager". */
	fetchImages?: "eager" | "lazy";
	/** An undici Dispatcher for every HTTP call (lifeguard's HTTP client is one). Default: an Agent the pool owns and closes. */
	dispatcher?: Dispatcher;
	/** Instances that must be up for `start()` to resolve. Default 1. */
	min?: number;
	/** Jobs running at once over all instances. Default: the sum of the instances' concurrency. */
	max?: number;
}

export const COMFYUI_DEFAULTS = {
	name: "comfyui",
	concurrency: 1,
	strategy: ChoiceStrategy.leastQueued,
	timeoutMs: 600_000,
	stallTimeoutMs: 60_000,
	maxAttempts: 3,
	cooldownMs: 60_000,
	healthCheckIntervalMs: 10_000,
	probeInitialMs: 500,
	probeMaxMs: 30_000,
	requestTimeoutMs: 30_000,
	pingIntervalMs: 10_000,
	pongTimeoutMs: 5_000,
	maxQueued: 1_000,
	fetchImages: "eager",
	min: 1,
} as const;

export interface ResolvedInstance {
	base: URL;
	label: string;
	headers: Record<string, string>;
	concurrency: number;
	verifyTls: boolean;
}

export type ResolvedPoolOptions = Required<Omit<ComfyUIPoolOptions, "instances" | "dispatcher" | "max">> & {
	instances: ResolvedInstance[];
	dispatcher: Dispatcher | undefined;
	max: number;
};

const KEYS = new Set<string>([...Object.keys(COMFYUI_DEFAULTS), "instances", "dispatcher", "max"]);
const DURATIONS = [
	"timeoutMs",
	"stallTimeoutMs",
	"cooldownMs",
	"healthCheckIntervalMs",
	"probeInitialMs",
	"probeMaxMs",
	"requestTimeoutMs",
	"pingIntervalMs",
	"pongTimeoutMs",
] as const;

// stallTimeoutMs and pongTimeoutMs pass here: each has its own rule for 0 below.
const ZERO_MEANS_OFF = new Set<string>(["cooldownMs", "healthCheckIntervalMs", "pingIntervalMs", "pongTimeoutMs", "stallTimeoutMs"]);

export function resolvePoolOptions(options: ComfyUIPoolOptions): ResolvedPoolOptions {
	if (typeof options !== "object" || options === null)
		throw new ConfigError("createComfyUIPool", [{ path: "options", message: "expected an object with `instances`" }]);
	const problems: ConfigProblem[] = [];
	for (const key of Object.keys(options))
		if (!KEYS.has(key)) problems.push({ path: key, message: "unknown option (options are camelCase with units, e.g. stallTimeoutMs)" });
	const merged = { ...COMFYUI_DEFAULTS, ...options } as Record<string, unknown>;
	for (const key of DURATIONS) {
		const v = merged[key];
		// 0 turns the health check, the heartbeat and the cooldown off; elsewhere it would fail every job at once or
		// probe a down instance in a tight loop. Past 2^31-1 a Node timer fires after 1 ms: refused, not armed.
		const problem = durationProblem(v, { allowZero: ZERO_MEANS_OFF.has(key) });
		if (problem !== undefined) problems.push({ path: key, message: problem });
	}
	for (const key of ["concurrency", "maxAttempts", "maxQueued"] as const) {
		const v = merged[key];
		if (!(Number.isInteger(v) && (v as number) >= 1)) problems.push({ path: key, message: `must be an integer >= 1, got ${JSON.stringify(v)}` });
	}
	if (!(Number.isInteger(merged.min) && (merged.min as number) >= 0))
		problems.push({ path: "min", message: `must be an integer >= 0, got ${JSON.stringify(merged.min)}` });
	if (!Object.values(ChoiceStrategy).includes(merged.strategy as ChoiceStrategy)) {
		problems.push({ path: "strategy", message: `must be one of ${Object.values(ChoiceStrategy).join(", ")}, got ${JSON.stringify(merged.strategy)}` });
	}
	if (merged.fetchImages !== "eager" && merged.fetchImages !== "lazy") problems.push({ path: "fetchImages", message: `must be "eager" or "lazy"` });
	if (merged.stallTimeoutMs === 0)
		problems.push({ path: "stallTimeoutMs", message: "must be > 0: ComfyUI sends no heartbeat, a lost job is noticed only by this" });
	if (merged.pongTimeoutMs === 0 && merged.pingIntervalMs !== 0)
		problems.push({ path: "pongTimeoutMs", message: "must be > 0 while the heartbeat is on (pingIntervalMs > 0): every ping would take the instance out" });
	const instances: ResolvedInstance[] = [];
	const list = options.instances;
	if (!Array.isArray(list) || list.length === 0) problems.push({ path: "instances", message: "at least one instance URL is needed" });
	else {
		for (const [i, entry] of list.entries()) {
			const resolved = resolveInstance(entry, i, merged.concurrency as number, problems);
			if (resolved !== undefined) instances.push(resolved);
		}
		const labels = instances.map((x) => x.label);
		for (const [i, label] of labels.entries())
			if (labels.indexOf(label) !== i) problems.push({ path: `instances[${i}]`, message: `duplicate instance "${label}" (give each a distinct name)` });
	}
	const sum = instances.reduce((n, x) => n + (Number.isInteger(x.concurrency) && x.concurrency > 0 ? x.concurrency : 1), 0);
	const max = options.max ?? sum;
	if (!(Number.isInteger(max) && max >= 1)) problems.push({ path: "max", message: `must be an integer >= 1, got ${JSON.stringify(max)}` });
	if (typeof merged.min === "number" && merged.min > instances.length && instances.length > 0) {
		problems.push({ path: "min", message: `(${merged.min}) is more than the ${instances.length} instances` });
	}
	if (problems.length > 0) throw new ConfigError(`createComfyUIPool(${JSON.stringify(String(merged.name))})`, problems);
	return { ...(merged as Omit<ResolvedPoolOptions, "instances" | "dispatcher" | "max">), instances, dispatcher: options.dispatcher, max };
}

function resolveInstance(entry: string | ComfyUIInstanceConfig, i: number, concurrency: number, problems: ConfigProblem[]): ResolvedInstance | undefined {
	const config: ComfyUIInstanceConfig = typeof entry === "string" ? { url: entry } : entry;
	const path = `instances[${i}]`;
	if (typeof config?.url !== "string") {
		problems.push({ path: `${path}.url`, message: "required: an http(s):// URL" });
		return undefined;
	}
	const parsed = parseConnectionUrl(config.url);
	if (parsed.url === undefined) {
		problems.push({ path: `${path}.url`, message: parsed.problem });
		return undefined;
	}
	const base = parsed.url;
	if (base.protocol !== "http:" && base.protocol !== "https:") {
		problems.push({ path: `${path}.url`, message: `must be http:// or https://, got ${base.protocol}//` });
		return undefined;
	}
	const headers: Record<string, string> = {};
	if (parsed.username !== undefined || parsed.password !== undefined) {
		headers.authorization = `Basic ${Buffer.from(`${parsed.username ?? ""}:${parsed.password ?? ""}`).toString("base64")}`;
	}
	const auth = config.auth;
	if (auth !== undefined) {
		if ("token" in auth && typeof auth.token === "string") headers.authorization = `Bearer ${auth.token}`;
		else if ("username" in auth && typeof auth.username === "string" && typeof auth.password === "string") {
			headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
		} else problems.push({ path: `${path}.auth`, message: "must be { token } or { username, password }" });
	}
	base.username = "";
	base.password = "";
	base.search = "";
	base.hash = "";
	const own = config.concurrency ?? concurrency;
	if (config.concurrency !== undefined && !(Number.isInteger(own) && own >= 1))
		problems.push({ path: `${path}.concurrency`, message: `must be an integer >= 1, got ${JSON.stringify(own)}` });
	const label = config.name ?? base.host;
	return { base, label, headers, concurrency: own, verifyTls: config.verifyTls ?? true };
}

/** Seed 000's configuration of one ComfyUI server. */
export interface ComfyUIConfig {
	host: string;
	/** Default 8188. */
	port?: number;
	/** A path prefix for every route ("/api" or a reverse proxy's prefix). Default "". */
	apiPath?: string;
	/** One HTTP call's deadline, in seconds (the seed's unit). Default 30. */
	timeout?: number;
	/** https:// instead of http://. Default false. */
	secure?: boolean;
	/** Check TLS certificates. Default true. */
	verifyTls?: boolean;
	auth?: ComfyUIAuth;
}

/** The instance URL a ComfyUIConfig names. */
export function configUrl(config: ComfyUIConfig): string {
	const path = (config.apiPath ?? "").replace(/^\/?/, "/").replace(/\/+$/, "");
	return `${config.secure ? "https" : "http"}://${config.host}:${config.port ?? 8188}${path === "/" ? "" : path}`;
}
