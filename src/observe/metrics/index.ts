/**
 * `lifeguard/metrics`: every pool of every managed client in Prometheus (prom-client) and
 * OpenTelemetry, read on scrape. See docs/metrics.md.
 */
export { type CollectorOptions, type MetricFamily, PoolMetricsCollector, type Sample } from "./collector.ts";
export { CumulativeHistogram } from "./cumulative-histogram.ts";
export { DEFAULT_BUCKETS, METRICS, MetricName, type MetricSpec, type MetricType } from "./names.ts";
export { createOpenTelemetryMetrics, type OpenTelemetryMetrics, type OpenTelemetryMetricsOptions, OtelName } from "./opentelemetry.ts";
export { createPrometheusMetrics, type PrometheusMetrics, type PrometheusMetricsOptions } from "./prometheus.ts";
export { PROMETHEUS_CONTENT_TYPE, renderPrometheusText } from "./text-format.ts";
