/** lifeguard/health: the endpoints over a real node:http server and under Fastify. */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import Fastify from "fastify";
import { ErrorCode } from "../../src/core/errors.ts";
import { createPool } from "../../src/core/pool.ts";
import type { BreakerView } from "../../src/manager/client.ts";
import { PoolManager } from "../../src/manager/manager.ts";
import { createHealthHandler, type HealthHandlerOptions, type HealthJson, HealthRoute } from "../../src/observe/health/index.ts";
import { MetricName } from "../../src/observe/metrics/index.ts";
import { parsePrometheusText, sampleOf } from "./prom-text.ts";

const counter = () => {
	let next = 0;
	return { create: () => ({ id: ++next }), destroy: () => {} };
};
const SECRET = "hunter2-s3cret";

// biome-ignore lint/suspicious/noExplicitAny: the assertions read whatever JSON the routes answer.
async function json(res: Response | Promise<Response>): Promise<any> {
	return (await res).json();
}

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
	for (const cleanup of cleanups.reverse()) await cleanup();
});

async function serve(manager: PoolManager, options?: HealthHandlerOptions): Promise<string> {
	const handler = createHealthHandler(manager, options);
	const server = http.createServer((req, res) => void handler(req, res));
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	cleanups.push(async () => {
		handler.close();
		server.closeAllConnections();
		await new Promise((resolve) => server.close(resolve));
	});
	return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function managed(): PoolManager {
	const m = new PoolManager();
	cleanups.push(() => m.close({ timeoutMs: 100 }));
	return m;
}

describe("/health/live", () => {
	it("passes whatever the pools' state, touching no backend", async () => {
		const m = managed();
		let creates = 0;
		m.create("down", {
			create: () => {
				creates++;
				throw new Error("ECONNREFUSED");
			},
			min: 1,
		});
		const base = await serve(m);
		const res = await fetch(`${base}/health/live`);
		assert.equal(res.status, 200);
		assert.match(res.headers.get("content-type") ?? "", /^application\/health\+json/);
		assert.deepEqual(await json(res), { status: "pass" });
		assert.equal(creates, 0);
	});
});

describe("/health/ready", () => {
	it("fails (503) while a pool is below min, passes once warm, fails again as soon as shutdown begins", async () => {
		const m = managed();
		m.create("orders", { ...counter(), min: 2 });
		const base = await serve(m);
		let res = await fetch(`${base}/health/ready`);
		assert.equal(res.status, 503);
		assert.deepEqual(await json(res), { status: "fail", notes: ["orders: 0 of min 2 connections open"] });
		await m.start();
		res = await fetch(`${base}/health/ready`);
		assert.equal(res.status, 200);
		assert.deepEqual(await json(res), { status: "pass" });
		m.beginShutdown();
		res = await fetch(`${base}/health/ready`);
		assert.equal(res.status, 503);
		assert.deepEqual(await json(res), { status: "fail", notes: ["shutting down"] });
	});
});

describe("/health/connections", () => {
	it("passes with one check per pool, giving size, utilization, error rate and score", async () => {
		const m = managed();
		const orders = m.create("orders", { ...counter(), max: 4 });
		const base = await serve(m, { serviceId: "checkout", version: "1" });
		const lease = await orders.acquire();
		const res = await fetch(`${base}/health/connections`);
		assert.equal(res.status, 200);
		assert.match(res.headers.get("content-type") ?? "", /^application\/health\+json/);
		const body = await json(res);
		assert.equal(body.status, "pass");
		assert.equal(body.serviceId, "checkout");
		const [check] = body.checks["orders:connections"];
		assert.equal(check.status, "pass");
		assert.equal(check.componentType, "pool");
		assert.equal(check.observedValue, 1);
		assert.equal(check.utilization, 0.25);
		assert.equal(check.errorRate, 0);
		assert.equal(check.healthScore, 100);
		assert.deepEqual(check.size, { total: 1, active: 1, idle: 0, creating: 0, pending: 0, min: 0, max: 4 });
		lease.release();
	});

	it("warns (200) when degraded", async () => {
		const m = managed();
		m.create("cold", { ...counter(), min: 1 });
		const res = await fetch(`${await serve(m)}/health/connections`);
		assert.equal(res.status, 200);
		const body = await json(res);
		assert.equal(body.status, "warn");
		assert.match(body.output, /cold: 0 of min 1 connections open/);
	});

	it("fails with 503 when unhealthy, and never shows a credential from the error", async () => {
		const m = managed();
		const down = m.create("db", {
			create: () => {
				throw new Error(`connect ECONNREFUSED postgres://app:${SECRET}@db.internal:5432/app password=${SECRET}`);
			},
			acquireTimeoutMs: 20,
		});
		await assert.rejects(down.acquire(), { code: ErrorCode.POOL_TIMEOUT });
		const base = await serve(m);
		const res = await fetch(`${base}/health/connections`);
		assert.equal(res.status, 503);
		const text = await res.text();
		assert.equal(JSON.parse(text).status, "fail");
		assert.match(text, /ECONNREFUSED postgres:\/\/\*\*\*@db.internal/);
		for (const path of Object.values(HealthRoute)) {
			const body = await (await fetch(`${base}${path}`)).text();
			assert.ok(!body.includes(SECRET), `${path} leaks the secret`);
		}
	});
});

describe("/metrics", () => {
	it("serves the Prometheus text, the same at /metrics/prometheus, and JSON with ?format=json", async () => {
		const m = managed();
		const orders = m.create("orders", counter());
		const base = await serve(m);
		(await orders.acquire()).release();
		const res = await fetch(`${base}/metrics`);
		assert.equal(res.status, 200);
		assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
		const text = parsePrometheusText(await res.text());
		assert.equal(sampleOf(text, MetricName.usageSeconds, { pool: "orders" }, `${MetricName.usageSeconds}_count`), 1);
		const alias = parsePrometheusText(await (await fetch(`${base}/metrics/prometheus`)).text());
		assert.equal(sampleOf(alias, MetricName.createdTotal, { pool: "orders" }), 1);
		const families = await json(fetch(`${base}/metrics?format=json`));
		const created = families.metrics.find((f: { name: string }) => f.name === MetricName.createdTotal);
		assert.deepEqual(created.samples, [{ name: MetricName.createdTotal, labels: { pool: "orders", kind: "pool" }, value: 1 }]);
	});
});

describe("/api/v1/admin/connection-pools and /health/circuit-breaker", () => {
	it("give every client with its pools, details and breakers, secret-named details masked", async () => {
		const m = managed();
		const primary = createPool({ ...counter(), name: "p" });
		const breakers: BreakerView[] = [
			{ label: "https://a.example", state: "open", failures: 4, retryAtMs: Date.UTC(2030, 0, 1), lastError: `401 for Bearer ${SECRET}` },
			{ label: "https://b.example", state: "closed", failures: 0 },
		];
		m.add({
			name: "api",
			kind: "http",
			pools: () => [{ label: "https://a.example", pool: primary }],
			breakers: () => breakers,
			details: () => ({ origins: 1, apiKey: SECRET, upstream: `https://user:${SECRET}@a.example` }),
			start: async () => {},
			close: () => primary.close(),
			[Symbol.asyncDispose]: () => primary.close(),
		});
		const base = await serve(m);
		const adminText = await (await fetch(`${base}/api/v1/admin/connection-pools`)).text();
		assert.ok(!adminText.includes(SECRET));
		const admin = JSON.parse(adminText);
		assert.equal(admin.status, "degraded");
		assert.equal(admin.ready, true);
		const [client] = admin.clients;
		assert.equal(client.name, "api");
		assert.deepEqual(client.details, { origins: 1, apiKey: "***", upstream: "https://***@a.example" });
		assert.equal(client.pools[0].id, "api/https://a.example");
		assert.equal(client.pools[0].stats.max, 10);
		const cb = await json(fetch(`${base}/health/circuit-breaker`));
		assert.equal(cb.status, "warn");
		assert.equal(cb.open, 1);
		assert.deepEqual(cb.breakers[0], {
			client: "api",
			kind: "http",
			label: "https://a.example",
			state: "open",
			failures: 4,
			retryAt: "2030-01-01T00:00:00.000Z",
			lastError: "401 for Bearer ***",
		});
	});
});

describe("authorize", () => {
	it("guards the metrics and admin routes; liveness and readiness stay open", async () => {
		const m = managed();
		m.create("orders", counter());
		const base = await serve(m, { authorize: (req) => req.headers.authorization === "Bearer let-me-in" });
		for (const path of [HealthRoute.metrics, HealthRoute.metricsPrometheus, HealthRoute.adminPools]) {
			assert.equal((await fetch(`${base}${path}`)).status, 401, path);
			assert.equal((await fetch(`${base}${path}`, { headers: { authorization: "Bearer let-me-in" } })).status, 200, path);
		}
		for (const path of [HealthRoute.live, HealthRoute.ready, HealthRoute.connections, HealthRoute.circuitBreaker]) {
			assert.equal((await fetch(`${base}${path}`)).status, 200, path);
		}
	});

	it("with protectHealth also guards the detailed health routes, and may be async", async () => {
		const m = managed();
		const base = await serve(m, { authorize: async (req) => req.headers["x-token"] === "t", protectHealth: true });
		assert.equal((await fetch(`${base}/health/connections`)).status, 401);
		assert.equal((await fetch(`${base}/health/circuit-breaker`)).status, 401);
		assert.equal((await fetch(`${base}/health/connections`, { headers: { "x-token": "t" } })).status, 200);
		assert.equal((await fetch(`${base}/health/live`)).status, 200);
	});
});

describe("as a request handler", () => {
	it("answers 404 for other paths alone, or hands them to next() (Express, Connect)", async () => {
		const m = managed();
		const base = await serve(m);
		assert.equal((await fetch(`${base}/elsewhere`)).status, 404);
		const handler = createHealthHandler(m, { histograms: false });
		cleanups.push(() => handler.close());
		const server = http.createServer((req, res) =>
			handler(req, res, () => {
				res.statusCode = 418;
				res.end("the app's own route");
			}),
		);
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
		const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
		const res = await fetch(`${url}/elsewhere`);
		assert.equal(res.status, 418);
		assert.equal(await res.text(), "the app's own route");
		assert.equal((await fetch(`${url}/health/live`)).status, 200);
	});

	it("refuses methods other than GET and HEAD with 405, and HEAD has no body", async () => {
		const base = await serve(managed());
		const post = await fetch(`${base}/health/live`, { method: "POST" });
		assert.equal(post.status, 405);
		assert.equal(post.headers.get("allow"), "GET, HEAD");
		const head = await fetch(`${base}/metrics`, { method: "HEAD" });
		assert.equal(head.status, 200);
		assert.equal(await head.text(), "");
	});

	it("strips a prefix when asked to", async () => {
		const base = await serve(managed(), { prefix: "/ops/" });
		assert.equal((await fetch(`${base}/ops/health/live`)).status, 200);
		assert.equal((await fetch(`${base}/health/live`)).status, 404);
	});
});

describe("under Fastify", () => {
	it("serves every route through the raw request and response, beside Fastify's own routes", async () => {
		const m = managed();
		m.create("orders", { ...counter(), min: 1 });
		await m.start();
		const handler = createHealthHandler(m);
		const app = Fastify();
		app.get("/hello", async () => ({ hello: "world" }));
		for (const path of Object.values(HealthRoute)) {
			app.get(path, (request, reply) => {
				reply.hijack();
				return handler(request.raw, reply.raw);
			});
		}
		await app.listen({ port: 0, host: "127.0.0.1" });
		cleanups.push(async () => {
			handler.close();
			await app.close();
		});
		const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
		assert.deepEqual(await json(fetch(`${base}/hello`)), { hello: "world" });
		const ready = await fetch(`${base}/health/ready`);
		assert.equal(ready.status, 200);
		assert.match(ready.headers.get("content-type") ?? "", /^application\/health\+json/);
		const health = (await json(fetch(`${base}/health/connections`))) as HealthJson;
		assert.equal(health.checks["orders:connections"][0].observedValue, 1);
		const metrics = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
		assert.equal(sampleOf(metrics, MetricName.size, { pool: "orders", state: "idle" }), 1);
		const admin = (await json(fetch(`${base}/api/v1/admin/connection-pools`))) as { clients: { pools: { size: { idle: number } }[] }[] };
		assert.equal(admin.clients[0].pools[0].size.idle, 1);
		m.beginShutdown();
		assert.equal((await fetch(`${base}/health/ready`)).status, 503);
	});
});
