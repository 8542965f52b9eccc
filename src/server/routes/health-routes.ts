/**
 * The probes: `/health/live` touches no backend; `/health/ready` fails while the service is
 * starting or shutting down, or while a pool is below its `min`.
 */
import type { FastifyInstance } from "fastify";
import type { Service } from "../service.ts";

export function healthRoutes(app: FastifyInstance, service: Service): void {
	app.get("/health/live", async (_request, reply) => {
		reply.type("application/health+json");
		return { status: "pass" };
	});

	app.get("/health/ready", async (_request, reply) => {
		const reasons = service.clients.manager.readiness().reasons;
		if (!service.ready && !service.shuttingDown) reasons.unshift("starting");
		reply.code(reasons.length === 0 ? 200 : 503).type("application/health+json");
		return reasons.length === 0 ? { status: "pass" } : { status: "fail", notes: reasons };
	});
}
