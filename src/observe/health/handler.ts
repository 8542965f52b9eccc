import type { IncomingMessage, ServerResponse } from "node:http";
import { messageOf } from "../../core/errors.ts";
import { HealthStatus } from "../../manager/health.ts";
import type { PoolManager } from "../../manager/manager.ts";
import { PoolMetricsCollector } from "../metrics/collector.ts";
import type { PrometheusMetrics } from "../metrics/prometheus.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheusText } from "../metrics/text-format.ts";
import { redactSecrets, redactValue } from "../redact.ts";
import { type HealthJsonOptions, toHealthJson } from "./health-json.ts";

/** The paths the handler serves (docs/health.md). */
export const HealthRoute = {
	live: "/health/live",
	ready: "/health/ready",
	connections: "/health/connections",
	circuitBreaker: "/health/circuit-breaker",
	metrics: "/metrics",
	metricsPrometheus: "/metrics/prometheus",
	adminPools: "/api/v1/admin/connection-pools",
} as const;
export type HealthRoute = (typeof HealthRoute)[keyof typeof HealthRoute];

export interface HealthHandlerOptions extends HealthJsonOptions {
	/**
	 * Decides whether a request may read the metrics and admin routes (`/metrics`,
	 * `/metrics/prometheus`, `/api/v1/admin/connection-pools`); false answers 401. Default: everyone may.
	 * `/health/live` and `/health/ready` are always open.
	 */
	authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
	/** Also ask `authorize` for `/health/connections` and `/health/circuit-breaker`. Default false. */
	protectHealth?: boolean;
	/** Serve `/metrics` from this registry (with your own metrics on it). Default: lifeguard's metrics alone, rendered directly. */
	metrics?: PrometheusMetrics;
	/** When the handler makes its own metrics: export the duration histograms (see docs/metrics.md). Default true. */
	histograms?: boolean;
	/** A path prefix to strip, for a plain node:http server that mounts the routes under e.g. `/ops`. Frameworks strip their mount path themselves. */
	prefix?: string;
}

/** A node:http request handler; with `next` it passes on paths it does not serve (Express, Connect), otherwise answers 404. */
export interface HealthHandler {
	(req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): Promise<void>;
	/** Stops the handler's own metrics collector (event listeners on the pools). */
	close(): void;
}

const HEALTH_JSON = "application/health+json; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";
const PROTECTED = new Set<string>([HealthRoute.metrics, HealthRoute.metricsPrometheus, HealthRoute.adminPools]);
const HEALTH_DETAIL = new Set<string>([HealthRoute.connections, HealthRoute.circuitBreaker]);
const ROUTES = new Set<string>(Object.values(HealthRoute));

/**
 * The health, metrics and admin endpoints over a manager, as one framework-agnostic request
 * handler: `http.createServer(handler)`, `app.use(handler)` (Express), or from Fastify/Hono with
 * the raw request and response. Nothing it serves touches a backend: every answer is read from
 * the pools' state. Secrets never appear in a response (messages are redacted once more here).
 */
export function createHealthHandler(manager: PoolManager, options: HealthHandlerOptions = {}): HealthHandler {
	const collector = options.metrics === undefined ? new PoolMetricsCollector(manager, { histograms: options.histograms }) : undefined;
	const prefix = options.prefix?.replace(/\/+$/, "") ?? "";

	const serve = async (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): Promise<void> => {
		const url = new URL(req.url ?? "/", "http://localhost");
		let path = url.pathname.replace(/\/+$/, "") || "/";
		if (prefix !== "") {
			if (path !== prefix && !path.startsWith(`${prefix}/`)) return pass(res, next);
			path = path.slice(prefix.length) || "/";
		}
		if (!ROUTES.has(path)) return pass(res, next);
		if (req.method !== "GET" && req.method !== "HEAD") {
			res.setHeader("Allow", "GET, HEAD");
			return send(req, res, 405, JSON_TYPE, { error: `${req.method} is not allowed on ${path}; use GET` });
		}
		const guarded = PROTECTED.has(path) || (options.protectHealth === true && HEALTH_DETAIL.has(path));
		if (guarded && options.authorize !== undefined && !(await options.authorize(req))) {
			return send(req, res, 401, JSON_TYPE, { error: "not authorized" });
		}
		switch (path) {
			case HealthRoute.live:
				return send(req, res, 200, HEALTH_JSON, { status: "pass" });
			case HealthRoute.ready: {
				const readiness = manager.readiness();
				return send(req, res, readiness.ready ? 200 : 503, HEALTH_JSON, {
					status: readiness.ready ? "pass" : "fail",
					...(readiness.ready ? {} : { notes: readiness.reasons.map(redactSecrets) }),
				});
			}
			case HealthRoute.connections: {
				const report = manager.health();
				return send(req, res, report.status === HealthStatus.unhealthy ? 503 : 200, HEALTH_JSON, toHealthJson(report, options));
			}
			case HealthRoute.circuitBreaker:
				return send(req, res, 200, JSON_TYPE, breakers(manager));
			case HealthRoute.metrics:
			case HealthRoute.metricsPrometheus:
				if (path === HealthRoute.metrics && url.searchParams.get("format") === "json") {
					return send(req, res, 200, JSON_TYPE, { metrics: collector?.collect() ?? options.metrics?.families() });
				}
				if (options.metrics !== undefined) return sendText(req, res, options.metrics.contentType, await options.metrics.text());
				return sendText(req, res, PROMETHEUS_CONTENT_TYPE, renderPrometheusText(collector?.collect() ?? []));
			case HealthRoute.adminPools:
				return send(req, res, 200, JSON_TYPE, adminReport(manager));
		}
	};

	const handler = (async (req, res, next) => {
		try {
			await serve(req, res, next);
		} catch (error) {
			if (res.headersSent) return void res.destroy();
			send(req, res, 500, JSON_TYPE, { error: redactSecrets(messageOf(error)) });
		}
	}) as HealthHandler;
	handler.close = () => collector?.dispose();
	return handler;
}

/** Every client's breakers, and whether any is open. */
function breakers(manager: PoolManager) {
	const all = manager.clients().flatMap((client) =>
		(client.breakers?.() ?? []).map((b) => ({
			client: client.name,
			kind: client.kind,
			label: b.label,
			state: b.state,
			failures: b.failures,
			...(b.retryAtMs !== undefined ? { retryAt: new Date(b.retryAtMs).toISOString() } : {}),
			...(b.lastError !== undefined ? { lastError: redactSecrets(b.lastError) } : {}),
		})),
	);
	const open = all.filter((b) => b.state === "open").length;
	return { status: open === 0 ? "pass" : open === all.length ? "fail" : "warn", open, breakers: all };
}

/** Everything the manager knows, per client and pool: what a dashboard or `lifeguard status` reads. */
function adminReport(manager: PoolManager) {
	const report = manager.health();
	const readiness = manager.readiness();
	return {
		status: report.status,
		reasons: report.reasons.map(redactSecrets),
		errorRate: report.errorRate,
		ready: readiness.ready,
		shuttingDown: report.shuttingDown,
		generatedAt: new Date().toISOString(),
		clients: manager.clients().map((client) => {
			const health = report.clients[client.name];
			return {
				name: client.name,
				kind: client.kind,
				status: health?.status,
				reasons: (health?.reasons ?? []).map(redactSecrets),
				details: redactValue(client.details?.() ?? {}),
				breakers: redactValue(health?.breakers ?? []),
				pools: Object.entries(health?.pools ?? {}).map(([label, pool]) => ({
					id: pool.id,
					label,
					status: pool.status,
					score: pool.score,
					reasons: pool.reasons.map(redactSecrets),
					errorRate: pool.errorRate,
					utilization: pool.utilization,
					efficiency: pool.efficiency,
					size: pool.size,
					lastError: pool.lastError === undefined ? undefined : redactSecrets(pool.lastError),
					stats: redactValue(pool.stats),
				})),
			};
		}),
	};
}

function pass(res: ServerResponse, next: ((error?: unknown) => void) | undefined): void {
	if (next !== undefined) return next();
	res.statusCode = 404;
	res.setHeader("Content-Type", JSON_TYPE);
	res.end(JSON.stringify({ error: "not found" }));
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: unknown): void {
	sendText(req, res, type, JSON.stringify(body), status);
}

function sendText(req: IncomingMessage, res: ServerResponse, type: string, text: string, status = 200): void {
	res.statusCode = status;
	res.setHeader("Content-Type", type);
	res.setHeader("Cache-Control", "no-store");
	res.setHeader("Content-Length", Buffer.byteLength(text));
	res.end(req.method === "HEAD" ? undefined : text);
}
