/**
 * `lifeguard/health`: the health report as `application/health+json`, and one node:http request
 * handler for the health, readiness, metrics and admin endpoints. See docs/health.md.
 */
export { assessPool, type HealthReport, HealthStatus, type PoolHealthReport } from "../../manager/health.ts";
export type { Readiness } from "../../manager/manager.ts";
export { redactSecrets, redactValue } from "../redact.ts";
export { createHealthHandler, type HealthHandler, type HealthHandlerOptions, HealthRoute } from "./handler.ts";
export { CheckStatus, type HealthCheck, type HealthJson, type HealthJsonOptions, toHealthJson } from "./health-json.ts";
