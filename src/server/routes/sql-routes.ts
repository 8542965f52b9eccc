/**
 * SQL over HTTP (see docs/service.md "SQL over HTTP"): sessions that hold one connection by id,
 * statements with bound parameters and a fetch mode, transactions, and one-shot queries and
 * batches on a pooled connection per call. Parameters are always bound by the driver, never
 * spliced into the SQL text.
 */
import { performance } from "node:perf_hooks";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { IsolationLevel, Route } from "../../adapters/sql/types.ts";
import { toJson } from "../json-body.ts";
import type { ServedClients } from "../served-clients.ts";
import { runStatement, type SqlSessions, type Statement, type TransactionAction } from "../sql-sessions.ts";

const MAX_SQL_LENGTH = 1_000_000;

const poolParams = {
	type: "object",
	required: ["name"],
	properties: { name: { type: "string", minLength: 1, maxLength: 200 } },
} as const;

const sessionParams = {
	type: "object",
	required: ["name", "id"],
	properties: { name: { type: "string", minLength: 1, maxLength: 200 }, id: { type: "string", minLength: 1, maxLength: 100 } },
} as const;

const statementProperties = {
	sql: { type: "string", minLength: 1, maxLength: MAX_SQL_LENGTH },
	params: { type: "array", maxItems: 10_000 },
	fetch: { type: "string", enum: ["all", "one", "many", "none"] },
	limit: { type: "integer", minimum: 1, maximum: 1_000_000 },
	timeoutMs: { type: "integer", minimum: 1 },
} as const;

const statementBody = { type: "object", required: ["sql"], additionalProperties: false, properties: statementProperties } as const;

const batchBody = {
	type: "object",
	required: ["sql", "paramSets"],
	additionalProperties: false,
	properties: {
		sql: statementProperties.sql,
		paramSets: { type: "array", minItems: 1, maxItems: 100_000, items: { type: "array", maxItems: 10_000 } },
		timeoutMs: statementProperties.timeoutMs,
	},
} as const;

const sessionBody = {
	type: ["object", "null"],
	additionalProperties: false,
	properties: {
		route: { type: "string", enum: ["auto", "primary", "replica"] },
		idleTimeoutMs: { type: "integer", minimum: 1 },
		acquireTimeoutMs: { type: "integer", minimum: 0 },
	},
} as const;

const transactionBody = {
	type: "object",
	required: ["action"],
	additionalProperties: false,
	properties: {
		action: { type: "string", enum: ["begin", "commit", "rollback"] },
		isolation: { type: "string", enum: ["read uncommitted", "read committed", "repeatable read", "serializable"] },
		readOnly: { type: "boolean" },
	},
} as const;

type PoolRequest = FastifyRequest<{ Params: { name: string } }>;
type SessionRequest = FastifyRequest<{ Params: { name: string; id: string } }>;

/** Aborts when the caller goes away before its answer was sent, so a request nobody waits for stops waiting for a connection. */
function signalOf(reply: FastifyReply): AbortSignal {
	const controller = new AbortController();
	reply.raw.once("close", () => {
		if (!reply.raw.writableFinished) controller.abort(new Error("the HTTP caller went away"));
	});
	return controller.signal;
}

export function sqlRoutes(app: FastifyInstance, served: ServedClients, sessions: SqlSessions): void {
	app.post("/api/v1/pools/:name/sessions", { schema: { params: poolParams, body: sessionBody } }, async (request: PoolRequest, reply) => {
		const client = served.sql(request.params.name);
		const body = (request.body ?? {}) as { route?: Route; idleTimeoutMs?: number; acquireTimeoutMs?: number };
		const opened = await sessions.open(request.params.name, client, { ...body, signal: signalOf(reply) });
		reply.code(201).type("application/json");
		return toJson({ sessionId: opened.sessionId, pool: request.params.name, idleTimeoutMs: opened.idleTimeoutMs });
	});

	app.post("/api/v1/pools/:name/sessions/:id/execute", { schema: { params: sessionParams, body: statementBody } }, async (request: SessionRequest, reply) => {
		served.sql(request.params.name);
		const result = await sessions.execute(request.params.name, request.params.id, request.body as Statement);
		reply.type("application/json");
		return toJson(result);
	});

	app.post(
		"/api/v1/pools/:name/sessions/:id/transaction",
		{ schema: { params: sessionParams, body: transactionBody } },
		async (request: SessionRequest, reply) => {
			served.sql(request.params.name);
			const body = request.body as { action: TransactionAction; isolation?: IsolationLevel; readOnly?: boolean };
			const state = await sessions.transaction(request.params.name, request.params.id, body);
			reply.type("application/json");
			return toJson({ action: body.action, ...state });
		},
	);

	app.delete("/api/v1/pools/:name/sessions/:id", { schema: { params: sessionParams } }, async (request: SessionRequest, reply) => {
		served.sql(request.params.name);
		sessions.release(request.params.name, request.params.id);
		reply.code(204);
	});

	app.post("/api/v1/pools/:name/query", { schema: { params: poolParams, body: statementBody } }, async (request: PoolRequest, reply) => {
		const client = served.sql(request.params.name);
		const statement = request.body as Statement;
		const timeoutMs = sessions.timeoutOf(statement.timeoutMs);
		const result = await runStatement(statement, timeoutMs, (sql, params, options) => client.query(sql, params, options), signalOf(reply));
		reply.type("application/json");
		return toJson(result);
	});

	app.post("/api/v1/pools/:name/batch", { schema: { params: poolParams, body: batchBody } }, async (request: PoolRequest, reply) => {
		const client = served.sql(request.params.name);
		const body = request.body as { sql: string; paramSets: unknown[][]; timeoutMs?: number };
		const timeoutMs = sessions.timeoutOf(body.timeoutMs);
		const t0 = performance.now();
		const rowCount = await client.batch(body.sql, body.paramSets, { timeoutMs, signal: signalOf(reply) });
		reply.type("application/json");
		return toJson({ rowCount, executionTimeMs: Math.round((performance.now() - t0) * 1000) / 1000 });
	});
}
