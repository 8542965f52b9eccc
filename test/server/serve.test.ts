/** `lifeguard serve` as a user runs it: a child process on the embedded default, its token, its security and its shutdown. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Json, type ServiceProcess, startServiceProcess } from "./service-process.ts";

describe("lifeguard serve on the embedded default", () => {
	let service: ServiceProcess;
	before(async () => {
		service = await startServiceProcess({ keepDataDir: true });
	});
	after(async () => {
		if (service.child.exitCode === null) await service.stop();
	});

	it("listens on 127.0.0.1 and prints its address, its pools and the admin token", () => {
		assert.match(service.url, /^http:\/\/127\.0\.0\.1:\d+$/);
		assert.ok(service.token !== undefined && service.token.length >= 30, service.stdout());
		assert.match(service.stdout(), /pools: embedded \(sqlite\), demo-upstream \(pool\), demo-llm \(llm\)/);
		assert.match(service.stdout(), /demo gateway key \(models demo-chat, demo-claude\): \S{30,}\n/);
		assert.match(service.stdout(), new RegExp(`dashboard: ${service.url}/#token=${service.token}`));
	});

	it("stores the token in the data directory with mode 0600", () => {
		const path = `${service.dataDir}/admin-token`;
		assert.equal(statSync(path).mode & 0o777, 0o600);
		assert.equal(readFileSync(path, "utf8").trim(), service.token);
		// Never "-" first: `lifeguard stats --token <token>` would read it as a flag (one token in 64 did).
		assert.match(service.token as string, /^lg_[A-Za-z0-9_-]{32}$/);
	});

	it("keeps /health/live and /health/ready open", async () => {
		for (const path of ["/health/live", "/health/ready"]) {
			const response = await fetch(`${service.url}${path}`);
			assert.equal(response.status, 200, path);
			assert.equal(((await response.json()) as Json).status, "pass");
		}
	});

	it("refuses admin, SQL, dashboard data and /metrics without the token, and with a wrong one", async () => {
		const calls: [string, string][] = [
			["GET", "/api/v1/admin/connection-pools"],
			["GET", "/api/v1/admin/connection-pools/embedded"],
			["POST", "/api/v1/pools/embedded/query"],
			["POST", "/api/v1/pools/embedded/sessions"],
			["GET", "/api/v1/dashboard"],
			["GET", "/metrics"],
		];
		for (const [method, path] of calls) {
			for (const headers of [{}, { authorization: "Bearer not-the-token" }, { authorization: `Basic ${service.token}` }]) {
				const response = await fetch(`${service.url}${path}`, { method, headers });
				assert.equal(response.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
				const body = (await response.json()) as Json;
				assert.equal(body.error.code, "UNAUTHORIZED");
			}
		}
		const ok = await service.request("GET", "/api/v1/admin/connection-pools");
		assert.equal(ok.status, 200);
		assert.deepEqual(
			ok.body.clients.map((c: { name: string }) => c.name),
			["embedded", "demo-upstream", "demo-llm"],
		);
	});

	it("serves /metrics in the Prometheus text format with the token (and ?format=json)", async () => {
		const text = await fetch(`${service.url}/metrics`, { headers: service.auth() });
		assert.equal(text.status, 200);
		assert.match(text.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
		assert.match(await text.text(), /^connection_pool_size\{[^}]*pool="embedded\/primary"[^}]*\} \d+$/m);
		const json = await service.request("GET", "/metrics?format=json");
		assert.ok(json.body.some((family: Json) => family.name === "connection_pool_utilization"));
	});

	it("answers a bad body with a 400 that names the problem, never a 500", async () => {
		const cases: [unknown, RegExp][] = [
			[{ sqll: "SELECT 1" }, /body\/sql is required.*body\/sqll is not allowed|body\/sqll is not allowed.*body\/sql is required/],
			[{ sql: "SELECT 1", fetch: "some" }, /body\/fetch must be one of "all", "one", "many", "none"/],
			[{ sql: "SELECT 1", params: "1" }, /body\/params must be array/],
			[{ sql: 42 }, /body\/sql must be string/],
			["{not json", /not valid JSON/],
			[[1, 2], /body must be object/],
			[{ sql: "SELECT 1", fetch: "many" }, /body\/limit is required with fetch "many"/],
			[{ sql: "SELECT 1", timeoutMs: 10_000_000 }, /timeoutMs 10000000 is above this service's maximum/],
		];
		for (const [body, message] of cases) {
			const response = await service.request("POST", "/api/v1/pools/embedded/query", body);
			assert.equal(response.status, 400, JSON.stringify(body));
			assert.equal(response.body.error.code, "BAD_REQUEST");
			assert.match(response.body.error.message, message);
		}
	});

	it("refuses a body over the size limit with 413", async () => {
		const response = await service.request("POST", "/api/v1/pools/embedded/query", { sql: `SELECT '${"x".repeat(1_100_000)}'` });
		assert.equal(response.status, 413);
		assert.equal(response.body.error.code, "PAYLOAD_TOO_LARGE");
	});

	it("answers an unknown pool and an unknown route with 404s that say what exists", async () => {
		const pool = await service.request("POST", "/api/v1/pools/nope/query", { sql: "SELECT 1" });
		assert.equal(pool.status, 404);
		assert.match(pool.body.error.message, /no SQL pool named "nope"; known: embedded/);
		const route = await service.request("GET", "/api/v1/nothing");
		assert.equal(route.status, 404);
	});

	it("on SIGTERM fails /health/ready first, lets a request in flight finish, then exits 0", async () => {
		const agent = { keepalive: true };
		const slow = service.request("POST", "/api/v1/pools/embedded/query", {
			sql: "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) SELECT count(*) AS c FROM n",
			fetch: "one",
		});
		await new Promise((resolve) => setTimeout(resolve, 100));
		service.child.kill("SIGTERM");
		await new Promise((resolve) => setTimeout(resolve, 200));
		const ready = await fetch(`${service.url}/health/ready`, agent);
		assert.equal(ready.status, 503);
		assert.deepEqual(((await ready.json()) as Json).notes, ["shutting down"]);
		const live = await fetch(`${service.url}/health/live`);
		assert.equal(live.status, 200);
		const answer = await slow;
		assert.equal(answer.status, 200, JSON.stringify(answer.body));
		assert.equal(answer.body.row.c, 1_000_000);
		assert.equal(await service.stop(), 0);
		assert.match(service.stdout(), /SIGTERM: not ready, draining, closing/);
	});

	it("does not show the token again on the next start of the same data directory", async () => {
		const again = await startServiceProcess({ dataDir: service.dataDir });
		try {
			assert.equal(again.token, undefined);
			assert.doesNotMatch(again.stdout(), new RegExp(service.token as string));
			assert.match(again.stdout(), /admin token: in .*admin-token \(shown only when generated\)/);
			const response = await fetch(`${again.url}/api/v1/admin/connection-pools`, { headers: service.auth() });
			assert.equal(response.status, 200);
		} finally {
			assert.equal(await again.stop("SIGINT"), 0);
		}
	});
});

describe("lifeguard serve while a backend is down", () => {
	let service: ServiceProcess;
	let dir: string;
	before(async () => {
		dir = mkdtempSync(join(tmpdir(), "lifeguard-serve-down-"));
		const config = join(dir, "lifeguard.yaml");
		// Port 1 refuses connections: the pool keeps retrying with backoff and never reaches its min.
		writeFileSync(
			config,
			[
				"service:",
				"  notReadyGraceMs: 0",
				"pools:",
				"  serve_down:",
				"    kind: postgres",
				"    url: postgres://postgres@127.0.0.1:1/test",
				"    min: 1",
				"",
			].join("\n"),
		);
		service = await startServiceProcess({ args: ["--config", config] });
	});
	after(async () => {
		if (service !== undefined && service.child.exitCode === null) await service.stop();
		rmSync(dir, { recursive: true, force: true });
	});

	it("still listens and says it is starting: live passes, ready fails naming the pool below its min", async () => {
		assert.match(service.stdout(), /starting: /);
		const live = await fetch(`${service.url}/health/live`);
		assert.equal(live.status, 200);
		const ready = await fetch(`${service.url}/health/ready`);
		assert.equal(ready.status, 503);
		const notes = ((await ready.json()) as Json).notes as string[];
		assert.equal(notes[0], "starting");
		assert.ok(
			notes.some((note) => /serve_down.*0 of min 1/.test(note)),
			JSON.stringify(notes),
		);
	});

	it("shuts down cleanly on SIGTERM before its pools ever started", async () => {
		assert.equal(await service.stop(), 0);
	});
});
