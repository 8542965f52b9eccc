/**
 * `/metrics` (Prometheus text; `?format=json`) and its alias `/metrics/prometheus`: every pool of
 * every client through lifeguard/metrics, plus the gateway's usage per client key and model.
 * Needs the admin token unless the config sets `service.metricsPublic`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type MetricFamily, PoolMetricsCollector } from "../../observe/metrics/collector.ts";
import type { MetricName } from "../../observe/metrics/names.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheusText } from "../../observe/metrics/text-format.ts";
import type { UsageRow } from "../gateway/usage-meter.ts";
import type { Service } from "../service.ts";

/** The gateway's own metric names (not pool metrics: they count callers, not connections). */
export const GatewayMetric = {
	requests: "lifeguard_llm_requests_total",
	errors: "lifeguard_llm_errors_total",
	tokens: "lifeguard_llm_tokens_total",
} as const;

function usageFamilies(rows: UsageRow[]): MetricFamily[] {
	const labels = (r: UsageRow) => ({ client_key: r.clientKey, model: r.model });
	const family = (name: string, help: string, samples: MetricFamily["samples"]): MetricFamily => ({
		name: name as MetricName,
		type: "counter",
		help,
		samples,
	});
	return [
		family(
			GatewayMetric.requests,
			"LLM gateway requests per client key and model",
			rows.map((r) => ({ name: GatewayMetric.requests, labels: labels(r), value: r.requests })),
		),
		family(
			GatewayMetric.errors,
			"LLM gateway requests that failed (upstream error, rate limit, cut stream) per client key and model",
			rows.map((r) => ({ name: GatewayMetric.errors, labels: labels(r), value: r.errors })),
		),
		family(
			GatewayMetric.tokens,
			"Tokens the providers reported per client key, model and type (prompt, completion)",
			rows.flatMap((r) => [
				{ name: GatewayMetric.tokens, labels: { ...labels(r), type: "prompt" }, value: r.promptTokens },
				{ name: GatewayMetric.tokens, labels: { ...labels(r), type: "completion" }, value: r.completionTokens },
			]),
		),
	];
}

const formatQuery = { type: "object", additionalProperties: false, properties: { format: { type: "string", enum: ["json", "prometheus"] } } } as const;

export function metricsRoutes(app: FastifyInstance, service: Service): void {
	// Made at the first scrape: its histograms listen to every acquire and release, a cost nobody should pay who never scrapes.
	let collector: PoolMetricsCollector | undefined;
	const handler = async (request: FastifyRequest<{ Querystring: { format?: string } }>, reply: FastifyReply) => {
		collector ??= new PoolMetricsCollector(service.clients.manager);
		const families = [...collector.collect(), ...usageFamilies(service.llmUsage())];
		if (request.query.format === "json") {
			reply.type("application/json");
			return JSON.stringify(families);
		}
		reply.type(PROMETHEUS_CONTENT_TYPE);
		return renderPrometheusText(families);
	};
	app.get("/metrics", { schema: { querystring: formatQuery } }, handler);
	app.get("/metrics/prometheus", { schema: { querystring: formatQuery } }, handler);
}
