/**
 * The admin API: every client and pool with its statistics, one pool's detail (connections,
 * recent events, sessions), and actions on a pool (clear, resize within the service's bounds,
 * reset statistics).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ManagedClient, PoolView } from "../../manager/client.ts";
import type { ManagedPool } from "../../manager/manager.ts";
import { poolId } from "../../manager/views.ts";
import { HttpError, ServiceErrorCode } from "../http-errors.ts";
import { toJson } from "../json-body.ts";
import type { PoolWatch } from "../pool-watch.ts";
import type { ServedClients } from "../served-clients.ts";
import type { SqlSessions } from "../sql-sessions.ts";

const nameParams = { type: "object", required: ["name"], properties: { name: { type: "string", minLength: 1, maxLength: 300 } } } as const;

const actionBody = {
	type: "object",
	required: ["action"],
	additionalProperties: false,
	properties: {
		action: { type: "string", enum: ["clear", "resize", "resetStats"] },
		min: { type: "integer", minimum: 0 },
		max: { type: "integer", minimum: 1 },
	},
} as const;

/** A pool that can change its size at run time (duck-typed: the core pool gains it where it exists). */
type Resizable = { resize(sizes: { min?: number; max?: number }): void };

export interface AdminLimits {
	/** The largest `max` a resize may set. */
	maxPoolSize: number;
}

export function describeClient(client: ManagedClient, served: ServedClients): Record<string, unknown> {
	const sql = served.sqlStats(client.name);
	return {
		name: client.name,
		kind: client.kind,
		pools: client.pools().map(({ label, pool }) => ({ id: poolId(client, label), label, stats: pool.stats() })),
		breakers: client.breakers?.() ?? [],
		...(client.details === undefined ? {} : { details: client.details() }),
		...(sql === undefined ? {} : { sql: { dialect: client.kind, leases: sql.leases, routed: sql.routed } }),
	};
}

/** The pool `name`: its manager id (`db/primary`), its own name, or a client's name for the client's first pool; or a 404 listing the ids. */
export function findPool(served: ServedClients, name: string): ManagedPool {
	const pools = served.pools();
	const found = pools.find((p) => p.id === name) ?? pools.find((p) => p.pool.stats().name === name) ?? pools.find((p) => p.client.name === name);
	if (found !== undefined) return found;
	throw new HttpError(404, ServiceErrorCode.NOT_FOUND, `no pool named ${JSON.stringify(name)}; known: ${pools.map((p) => p.id).join(", ") || "none"}`);
}

export function adminRoutes(app: FastifyInstance, served: ServedClients, sessions: SqlSessions, watch: PoolWatch, limits: AdminLimits): void {
	app.get("/api/v1/admin/connection-pools", async (_request, reply) => {
		reply.type("application/json");
		return toJson({ clients: served.list().map((c) => describeClient(c, served)), sessions: { open: sessions.size, expired: sessions.expired } });
	});

	app.get("/api/v1/admin/connection-pools/:name", { schema: { params: nameParams } }, async (request: FastifyRequest<{ Params: { name: string } }>, reply) => {
		const { client, pool, label, id } = findPool(served, request.params.name);
		const health = (pool as unknown as { health?: () => { connections: unknown[] } }).health;
		reply.type("application/json");
		return toJson({
			id,
			client: client.name,
			kind: client.kind,
			label,
			stats: pool.stats(),
			connections: typeof health === "function" ? health.call(pool).connections : null,
			events: watch.events(id),
			sessions: sessions.describe().filter((s) => s.pool === client.name),
		});
	});

	app.post(
		"/api/v1/admin/connection-pools/:name",
		{ schema: { params: nameParams, body: actionBody } },
		async (request: FastifyRequest<{ Params: { name: string }; Body: { action: string; min?: number; max?: number } }>, reply) => {
			const { pool, id } = findPool(served, request.params.name);
			const { action, min, max } = request.body;
			if (action !== "resize" && (min !== undefined || max !== undefined)) {
				throw new HttpError(400, ServiceErrorCode.BAD_REQUEST, `body/min and body/max go with action "resize" only, not "${action}"`);
			}
			if (action === "clear") pool.clear();
			else if (action === "resetStats") pool.resetStats();
			else resize(pool, id, min, max, limits);
			reply.type("application/json");
			return toJson({ pool: id, action, stats: pool.stats() });
		},
	);
}

function resize(view: PoolView, name: string, min: number | undefined, max: number | undefined, limits: AdminLimits): void {
	if (min === undefined && max === undefined) throw new HttpError(400, ServiceErrorCode.BAD_REQUEST, 'action "resize" needs body/min, body/max or both');
	const current = view.stats();
	const newMin = min ?? current.min;
	const newMax = max ?? current.max;
	if (newMax > limits.maxPoolSize) {
		throw new HttpError(400, ServiceErrorCode.BAD_REQUEST, `body/max ${newMax} is above this service's bound of ${limits.maxPoolSize} (service.maxPoolSize)`);
	}
	if (newMin > newMax) throw new HttpError(400, ServiceErrorCode.BAD_REQUEST, `min ${newMin} would be above max ${newMax}`);
	const pool = view as unknown as Partial<Resizable>;
	if (typeof pool.resize !== "function") throw new HttpError(501, ServiceErrorCode.NOT_SUPPORTED, `pool "${name}" cannot change its size while running`);
	pool.resize.call(view, { min: newMin, max: newMax });
}
