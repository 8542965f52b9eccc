/**
 * The probes: `/health/live` touches no backend; `/health/ready` fails while the service is
 * starting or shutting down, or while a pool is below its `min`.
 */
import type { FastifyInstance } from "fastify";
import { createHealthHandler, HealthRoute } from "../../observe/health/handler.ts";
import type { Service } from "../service.ts";

export function healthRoutes(app: FastifyInstance, service: Service): void {
	// lifeguard/health's handler answers the health report's routes; the service's own auth hook has already run.
	const handler = createHealthHandler(service.clients.manager, { histograms: false });
	for (const path of [HealthRoute.connections, HealthRoute.circuitBreaker]) {
		app.get(path, async (request, reply) => {
			reply.hijack();
			await handler(request.raw, reply.raw);
		});
	}

	app.get("/health/live", async (_request, reply) => {
		reply.type("application/health+json");
		return { status: "pass" };
	});

	app.get("/health/providers", async (_request, reply) => {
		const providers = service.clients.llms().map((llm) => {
			const breakers = new Map(llm.breakers().map((b) => [b.label, b]));
			const deployments = (llm.details().deployments as { label: string }[]).map((d) => ({ ...d, breaker: breakers.get(d.label) }));
			const open = deployments.filter((d) => d.breaker?.state === "open").length;
			return { client: llm.name, status: open === 0 ? "pass" : open === deployments.length ? "fail" : "warn", deployments };
		});
		const worst = providers.some((p) => p.status === "fail") ? "fail" : providers.some((p) => p.status === "warn") ? "warn" : "pass";
		reply.type("application/health+json");
		return { status: worst, providers, usage: service.llmUsage() };
	});

	app.get("/health/ready", async (_request, reply) => {
		const reasons = service.clients.manager.readiness().reasons;
		if (!service.ready && !service.shuttingDown) reasons.unshift("starting");
		reply.code(reasons.length === 0 ? 200 : 503).type("application/health+json");
		return reasons.length === 0 ? { status: "pass" } : { status: "fail", notes: reasons };
	});
}
