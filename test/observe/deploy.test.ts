/** deploy/: the Prometheus rules load and fire, and every metric and label the rules and the dashboard name is one lifeguard exports. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { parse } from "yaml";
import { createPool } from "../../src/core/pool.ts";
import { PoolManager } from "../../src/manager/manager.ts";
import { createPrometheusMetrics } from "../../src/observe/metrics/index.ts";
import { parsePrometheusText } from "./prom-text.ts";

const run = promisify(execFile);
const rulesFile = new URL("../../deploy/prometheus/alerts.yaml", import.meta.url).pathname;
const rulesTestFile = new URL("../../deploy/prometheus/alerts.test.yaml", import.meta.url).pathname;
const dashboardFile = new URL("../../deploy/grafana/lifeguard.json", import.meta.url).pathname;

interface Rule {
	alert: string;
	expr: string;
	for?: string;
	labels?: Record<string, string>;
	annotations?: Record<string, string>;
}

const rules: Rule[] = (parse(readFileSync(rulesFile, "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(readFileSync(dashboardFile, "utf8")) as {
	panels: { title: string; targets: { expr: string; legendFormat?: string }[] }[];
	templating: { list: { definition: string }[] };
};

/** promtool, or undefined where it is not installed; in CI (which installs it through .ci/run) a missing promtool fails. */
async function promtool(): Promise<string | undefined> {
	try {
		await run("promtool", ["--version"]);
		return "promtool";
	} catch {
		assert.ok(process.env.CI === undefined, "promtool is missing: .ci/run installs it (apt-get install prometheus)");
		return undefined;
	}
}

/** Series names and label names of a real scrape: a pool with traffic and a client with a breaker. */
async function exported(): Promise<{ series: Set<string>; labels: Set<string> }> {
	const manager = new PoolManager();
	const pool = manager.create("orders", { create: () => ({}), min: 1 });
	const origin = createPool({ create: () => ({}), name: "origin" });
	manager.add({
		name: "api",
		kind: "http",
		pools: () => [{ label: "https://a.example", pool: origin }],
		breakers: () => [{ label: "https://a.example", state: "open" as const, failures: 1 }],
		start: async () => {},
		close: () => origin.close(),
		[Symbol.asyncDispose]: () => origin.close(),
	});
	const metrics = await createPrometheusMetrics(manager);
	(await pool.acquire()).release();
	const families = parsePrometheusText(await metrics.text());
	metrics.close();
	await manager.close();
	const series = new Set<string>();
	const labels = new Set<string>();
	for (const family of families.values()) {
		series.add(family.name);
		for (const sample of family.samples) {
			series.add(sample.name);
			for (const label of Object.keys(sample.labels)) labels.add(label);
		}
	}
	return { series, labels };
}

/** Metric names a PromQL expression uses (lifeguard's are the ones starting with connection_). */
function metricsIn(expr: string): string[] {
	return [...expr.matchAll(/\b(connection_[a-z_]+)\b/g)].map((m) => m[1]);
}

/** Label names a PromQL expression or template refers to: matchers, by/ignoring/on lists, $labels.x, {{x}}. */
function labelsIn(text: string): string[] {
	const names: string[] = [];
	for (const m of text.matchAll(/\{([^{}]*)\}/g)) for (const l of m[1].matchAll(/([a-zA-Z_]+)\s*(=~|!~|!=|=)/g)) names.push(l[1]);
	for (const m of text.matchAll(/\b(?:by|ignoring|on|without)\s*\(([^)]*)\)/g)) names.push(...m[1].split(",").map((s) => s.trim()));
	for (const m of text.matchAll(/\$labels\.([a-zA-Z_]+)/g)) names.push(m[1]);
	for (const m of text.matchAll(/\{\{\s*([a-zA-Z_]+)\s*\}\}/g)) names.push(m[1]);
	return names.filter((n) => n !== "" && n !== "le" && n !== "__name__");
}

describe("deploy/prometheus/alerts.yaml", () => {
	it("loads in Prometheus (promtool check rules), or else parses with an alert, expr and severity per rule", async () => {
		const tool = await promtool();
		if (tool !== undefined) {
			const { stdout } = await run(tool, ["check", "rules", rulesFile]);
			assert.match(stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
		}
		assert.ok(rules.length >= 6);
		for (const rule of rules) {
			assert.ok(rule.alert && rule.expr, JSON.stringify(rule));
			assert.ok(["info", "warning", "critical"].includes(rule.labels?.severity ?? ""), `${rule.alert} severity`);
			assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert} annotations`);
		}
	});

	it("covers pool exhaustion, wait p99, error rate, circuit open and below min", () => {
		const exprs = rules.map((r) => r.expr).join("\n");
		assert.match(exprs, /connection_pool_utilization/);
		assert.match(exprs, /histogram_quantile\(0\.99, .*connection_pool_wait_seconds_bucket/);
		assert.match(exprs, /connection_pool_error_rate/);
		assert.match(exprs, /connection_pool_circuit_breaker_open/);
		assert.match(exprs, /connection_pool_min_connections/);
	});

	it("fires on the series lifeguard exports (promtool test rules, when promtool is there)", async (t) => {
		const tool = await promtool();
		if (tool === undefined) {
			t.diagnostic("promtool is not installed (apt-get install prometheus): the unit tests of the rules were not run");
			return;
		}
		const { stdout } = await run(tool, ["test", "rules", rulesTestFile]);
		assert.match(stdout, /SUCCESS/);
	});
});

describe("the rules and the dashboard name only what lifeguard exports", () => {
	it("every metric and label in alerts.yaml and lifeguard.json is in a real scrape", async () => {
		const { series, labels } = await exported();
		const texts = [
			...rules.flatMap((r) => [r.expr, ...Object.values(r.annotations ?? {})]),
			...dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [t.expr, t.legendFormat ?? ""])),
			...dashboard.templating.list.map((v) => v.definition),
		];
		const named = new Set(texts.flatMap(metricsIn));
		assert.ok(named.size >= 10, `only ${named.size} metrics named`);
		for (const name of named) assert.ok(series.has(name), `${name} is not exported by lifeguard`);
		for (const label of new Set(texts.flatMap(labelsIn))) assert.ok(labels.has(label), `label ${label} is not exported by lifeguard`);
	});

	it("the dashboard has the panels the issue asks for", () => {
		const titles = dashboard.panels.map((p) => p.title).join("\n");
		for (const want of [/Utilization/, /Connections by state/, /p50 \/ p99/, /Errors/, /created \/ closed/]) assert.match(titles, want);
	});
});
