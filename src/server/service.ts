/**
 * `lifeguard serve`: one Fastify server in front of the configured clients. It owns the order of
 * things: it listens while its clients start (live answers, ready says "starting" until every pool
 * has its min, so a database that is down never keeps the port closed); on shutdown, not ready first (so load balancers stop
 * sending), then the HTTP server drains (requests in flight finish), sessions are released, and
 * the clients close under the shutdown deadline.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { installShutdown, type ShutdownHandle } from "../manager/shutdown.ts";
import type { AdminToken } from "./admin-token.ts";
import { bearerChecker } from "./admin-token.ts";
import { ClientKeys } from "./gateway/client-keys.ts";
import { gatewayRoutes } from "./gateway/gateway-routes.ts";
import { UsageMeter, type UsageRow } from "./gateway/usage-meter.ts";
import { HttpError, ServiceErrorCode, toHttpError } from "./http-errors.ts";
import { PoolWatch } from "./pool-watch.ts";
import { adminRoutes } from "./routes/admin-routes.ts";
import { dashboardRoutes } from "./routes/dashboard-routes.ts";
import { healthRoutes } from "./routes/health-routes.ts";
import { metricsRoutes } from "./routes/metrics-routes.ts";
import { sqlRoutes } from "./routes/sql-routes.ts";
import { formatSchemaErrors } from "./schema-errors.ts";
import type { ServedClients } from "./served-clients.ts";
import type { GatewaySettings, ServiceSettings } from "./service-config.ts";
import { SqlSessions } from "./sql-sessions.ts";

export interface ServiceOptions {
	settings: ServiceSettings;
	clients: ServedClients;
	token: AdminToken;
	/** The LLM gateway's client keys; none: the gateway refuses every call (it never runs open). */
	gateway?: GatewaySettings;
	/** Called once the clients are closed (the embedded default stops its demo upstream there). */
	onClosed?: () => Promise<void>;
}

/** Paths anyone may call: the probes, and the dashboard's page and static files (its data needs the token). */
const OPEN_PATHS = new Set(["/health/live", "/health/ready", "/", "/favicon.ico"]);
const OPEN_PREFIXES = ["/dashboard/"];
const METRICS_PATHS = new Set(["/metrics", "/metrics/prometheus"]);

export class Service {
	readonly app: FastifyInstance;
	readonly clients: ServedClients;
	readonly sessions: SqlSessions;
	readonly watch: PoolWatch;
	readonly settings: ServiceSettings;
	readonly keys: ClientKeys;
	readonly usage = new UsageMeter();
	readonly #token: AdminToken;
	readonly #onClosed: (() => Promise<void>) | undefined;
	#ready = false;
	#started: Promise<void> | undefined;
	#shuttingDown: Promise<void> | undefined;
	readonly #drain: ShutdownHandle;

	constructor(options: ServiceOptions) {
		this.settings = options.settings;
		this.clients = options.clients;
		this.#token = options.token;
		this.#onClosed = options.onClosed;
		this.sessions = new SqlSessions(options.settings.sessions);
		this.keys = new ClientKeys(options.gateway?.keys ?? []);
		this.watch = new PoolWatch(options.clients);
		this.app = Fastify({
			logger: false,
			bodyLimit: options.settings.bodyLimitBytes,
			// Every error has its path: unknown keys are refused, not dropped, and types are not coerced into something else.
			ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
			schemaErrorFormatter: formatSchemaErrors,
			return503OnClosing: true,
			forceCloseConnections: "idle",
		});
		this.#routes();
		this.#drain = installShutdown(this.clients.manager, {
			signals: [],
			exit: false,
			servers: [this.app.server],
			drainDelayMs: this.settings.notReadyGraceMs,
			timeoutMs: this.settings.shutdownTimeoutMs,
			beforeClose: () => this.sessions.closeAll(),
		});
	}

	/** LLM usage per client key and model, for the dashboard (empty until the gateway is configured). */
	llmUsage(): UsageRow[] {
		return this.usage.rows();
	}

	get ready(): boolean {
		return this.#ready && this.#shuttingDown === undefined;
	}

	get shuttingDown(): boolean {
		return this.#shuttingDown !== undefined;
	}

	/**
	 * Listens, and starts the clients. Resolves with the address once they have started, or after
	 * `startWaitMs` (default 2 s) with them still starting (see `started`); rejects when they fail
	 * before that (a `failFast` pool).
	 */
	async listen(options: { startWaitMs?: number } = {}): Promise<string> {
		// Watched before they start, so that the first connections' events are in the pools' recent events.
		this.watch.start();
		const address = await this.app.listen({ host: this.settings.host, port: this.settings.port });
		// A pool waits for its min connections as long as its backend refuses them: serving meanwhile
		// lets /health/live pass and /health/ready say why it fails, instead of a silent closed port.
		this.#started = this.clients.start().then(() => {
			this.#ready = true;
		});
		this.#started.catch(() => {});
		let timer: NodeJS.Timeout | undefined;
		const waited = new Promise<void>((resolve) => {
			timer = setTimeout(resolve, options.startWaitMs ?? 2_000);
		});
		try {
			await Promise.race([this.#started, waited]);
		} finally {
			clearTimeout(timer);
		}
		return address;
	}

	/** Settles when the clients have started (every pool at its min), or rejects with why they could not. */
	get started(): Promise<void> {
		return this.#started ?? Promise.reject(new Error("listen() was not called"));
	}

	/**
	 * The manager's graceful shutdown (lifeguard's installShutdown): not ready while still serving
	 * for `notReadyGraceMs`, the HTTP server drains, sessions are released (rolled back), clients
	 * close, all under `shutdownTimeoutMs`. Signals are the caller's to handle (`lifeguard serve`
	 * does). Idempotent.
	 */
	shutdown(): Promise<void> {
		this.#shuttingDown ??= (async () => {
			this.#ready = false;
			this.watch.stop();
			await this.#drain.shutdown();
			await this.#onClosed?.();
		})();
		return this.#shuttingDown;
	}

	#routes(): void {
		const app = this.app;
		const metricsPublic = this.settings.metricsPublic;
		const admin = bearerChecker(this.#token.value);
		// A callback hook, not an async one: it runs on every request, the gateway's included, and an
		// async hook costs a promise and a microtask turn each time even when it returns at once.
		app.addHook("onRequest", (request, _reply, done) => {
			const url = request.url;
			// The gateway checks its own client keys (gateway-routes.ts).
			if (url.startsWith("/v1/")) return done();
			const q = url.indexOf("?");
			const path = q === -1 ? url : url.slice(0, q);
			if (OPEN_PATHS.has(path) || OPEN_PREFIXES.some((p) => path.startsWith(p))) return done();
			if (metricsPublic && METRICS_PATHS.has(path)) return done();
			if (!admin(request.headers.authorization)) {
				return done(
					new HttpError(
						401,
						ServiceErrorCode.UNAUTHORIZED,
						"this endpoint needs the admin token: Authorization: Bearer <token> (printed at first start, stored in the data directory)",
					),
				);
			}
			done();
		});
		app.setErrorHandler((error, request, reply) => {
			const { statusCode, body } = toHttpError(error);
			if (statusCode >= 500 && !(error instanceof HttpError)) logUnexpected(request.method, request.routeOptions.url ?? "?", error);
			if (statusCode === 401) reply.header("www-authenticate", 'Bearer realm="lifeguard"');
			if (statusCode === 503 && !this.shuttingDown) reply.header("retry-after", "1");
			reply.code(statusCode).type("application/json").send(body);
		});
		app.setNotFoundHandler((request, reply) => {
			reply
				.code(404)
				.type("application/json")
				.send({ error: { code: ServiceErrorCode.NOT_FOUND, message: `no route ${request.method} ${request.url.split("?", 1)[0]}` } });
		});
		healthRoutes(app, this);
		adminRoutes(app, this.clients, this.sessions, this.watch, { maxPoolSize: this.settings.maxPoolSize });
		sqlRoutes(app, this.clients, this.sessions);
		dashboardRoutes(app, this);
		metricsRoutes(app, this);
		gatewayRoutes(app, { keys: this.keys, usage: this.usage, llms: () => this.clients.llms(), bodyLimitBytes: this.settings.gatewayBodyLimitBytes });
	}
}

/** The service's log line for a failure it did not expect: the error's name and code only, since a driver's message may quote a URL. */
function logUnexpected(method: string, route: string, error: unknown): void {
	const e = error as { name?: string; code?: string };
	console.error(JSON.stringify({ level: "error", msg: "request failed", method, route, error: e?.name ?? typeof error, code: e?.code }));
}
