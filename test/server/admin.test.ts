/** The admin API: every client and pool, one pool's detail, and actions on a pool (clear, resize within bounds, reset stats). */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Json, type ServiceProcess, startServiceProcess } from "./service-process.ts";

describe("the admin API", () => {
	let service: ServiceProcess;
	before(async () => {
		service = await startServiceProcess();
	});
	after(async () => {
		await service?.stop();
	});

	it("lists every client with its pools, statistics and SQL leases", async () => {
		const r = await service.request("GET", "/api/v1/admin/connection-pools");
		assert.equal(r.status, 200);
		const embedded = r.body.clients.find((c: Json) => c.name === "embedded");
		assert.equal(embedded.kind, "sqlite");
		assert.equal(embedded.pools[0].id, "embedded/primary");
		assert.equal(embedded.pools[0].stats.max, 4);
		assert.deepEqual(embedded.sql.leases, { open: 0, reclaimed: 0 });
		assert.deepEqual(r.body.sessions, { open: 0, expired: 0 });
	});

	it("shows one pool's connections (age, uses, score), recent events and sessions; by id, pool name or client name", async () => {
		const session = await service.request("POST", "/api/v1/pools/embedded/sessions", {});
		for (const name of ["embedded%2Fprimary", "embedded"]) {
			const r = await service.request("GET", `/api/v1/admin/connection-pools/${name}`);
			assert.equal(r.status, 200, name);
			assert.equal(r.body.id, "embedded/primary");
			assert.ok(r.body.connections.length >= 1);
			for (const c of r.body.connections) assert.ok(typeof c.ageMs === "number" && typeof c.uses === "number" && typeof c.score === "number");
			assert.ok(r.body.events.some((e: Json) => e.event === "connectionReady"));
			assert.equal(r.body.sessions.length, 1);
			assert.match(r.body.sessions[0].session, /^[0-9a-f]{8}…$/, "a session id is shown only in part");
		}
		await service.request("DELETE", `/api/v1/pools/embedded/sessions/${session.body.sessionId}`);
		const unknown = await service.request("GET", "/api/v1/admin/connection-pools/nope");
		assert.equal(unknown.status, 404);
		assert.match(unknown.body.error.message, /known: embedded\/primary, demo-upstream/);
	});

	it("clear retires every connection (a new generation); resetStats starts a new statistics window", async () => {
		const before = (await service.request("GET", "/api/v1/admin/connection-pools/demo-upstream")).body.stats;
		const cleared = await service.request("POST", "/api/v1/admin/connection-pools/demo-upstream", { action: "clear" });
		assert.equal(cleared.status, 200);
		assert.equal(cleared.body.stats.generation, before.generation + 1);
		const reset = await service.request("POST", "/api/v1/admin/connection-pools/demo-upstream", { action: "resetStats" });
		assert.equal(reset.status, 200);
		assert.ok(reset.body.stats.waitMs.count <= before.waitMs.count);
		assert.ok(reset.body.stats.acquires.ok >= before.acquires.ok, "cumulative counters keep counting");
	});

	it("resize is checked against the service's bounds before anything else, then applied to the pool", async () => {
		const above = await service.request("POST", "/api/v1/admin/connection-pools/demo-upstream", { action: "resize", max: 1_000 });
		assert.equal(above.status, 400);
		assert.match(above.body.error.message, /above this service's bound of 100/);
		const inverted = await service.request("POST", "/api/v1/admin/connection-pools/demo-upstream", { action: "resize", min: 5, max: 2 });
		assert.equal(inverted.status, 400);
		assert.match(inverted.body.error.message, /min 5 would be above max 2/);
		const empty = await service.request("POST", "/api/v1/admin/connection-pools/demo-upstream", { action: "resize" });
		assert.equal(empty.status, 400);
		const within = await service.request("POST", "/api/v1/admin/connection-pools/demo-upstream", { action: "resize", max: 8 });
		assert.equal(within.status, 200, "the core pool resizes at run time");
		assert.equal(within.body.stats.max, 8);
	});

	it("a bad action is a 400 naming it", async () => {
		const r = await service.request("POST", "/api/v1/admin/connection-pools/demo-upstream", { action: "explode" });
		assert.equal(r.status, 400);
		assert.match(r.body.error.message, /body\/action must be one of "clear", "resize", "resetStats"/);
		const stray = await service.request("POST", "/api/v1/admin/connection-pools/demo-upstream", { action: "clear", max: 3 });
		assert.equal(stray.status, 400);
	});

	it("/health/connections (application/health+json, one check per pool) and /health/circuit-breaker come from lifeguard/health, behind the token", async () => {
		const r = await service.request("GET", "/health/connections");
		assert.equal(r.status, 200);
		assert.match(r.headers.get("content-type") ?? "", /^application\/health\+json/);
		assert.equal(r.body.status, "pass");
		const breakers = await service.request("GET", "/health/circuit-breaker");
		assert.equal(breakers.status, 200);
		assert.equal((await fetch(`${service.url}/health/connections`)).status, 401);
	});

	it("/health/providers shows the embedded default's demo LLM provider, its breakers and its usage", async () => {
		const r = await service.request("GET", "/health/providers");
		assert.equal(r.status, 200);
		assert.equal(r.body.providers[0].client, "demo-llm");
		assert.deepEqual(
			r.body.providers[0].deployments.map((d: Json) => [d.model, d.breaker.state]),
			[
				["demo-chat", "closed"],
				["demo-claude", "closed"],
			],
		);
	});
});
