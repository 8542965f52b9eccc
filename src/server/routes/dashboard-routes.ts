/**
 * The dashboard: a page and its script served as files (no build step), uPlot from its own
 * package, and the one data endpoint the page polls (which needs the admin token).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { toJson } from "../json-body.ts";
import type { Service } from "../service.ts";
import { describeClient } from "./admin-routes.ts";

/** The page's files: next to this module's folder in src/, or in src/ beside dist/ for a built package. */
function dashboardDir(): string {
	const beside = fileURLToPath(new URL("../dashboard/", import.meta.url));
	if (existsSync(`${beside}index.html`)) return beside;
	return fileURLToPath(new URL("../../../src/server/dashboard/", import.meta.url));
}

const FILES = {
	"/": ["index.html", "text/html; charset=utf-8"],
	"/dashboard/app.js": ["app.js", "text/javascript; charset=utf-8"],
	"/dashboard/style.css": ["style.css", "text/css; charset=utf-8"],
} as const;

const sinceQuery = { type: "object", properties: { since: { type: "string", pattern: "^[0-9]{1,16}$" } } } as const;

export function dashboardRoutes(app: FastifyInstance, service: Service): void {
	const dir = dashboardDir();
	for (const [path, [file, type]] of Object.entries(FILES)) {
		const body = readFileSync(`${dir}${file}`);
		app.get(path, async (_request, reply) => {
			reply.type(type).header("cache-control", "no-cache").header("content-security-policy", "default-src 'self'; style-src 'self' 'unsafe-inline'");
			return body;
		});
	}
	const require = createRequire(import.meta.url);
	const uplotJs = readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"));
	const uplotCss = readFileSync(require.resolve("uplot/dist/uPlot.min.css"));
	app.get("/dashboard/uplot.js", async (_request, reply) => reply.type("text/javascript; charset=utf-8").send(uplotJs));
	app.get("/dashboard/uplot.css", async (_request, reply) => reply.type("text/css; charset=utf-8").send(uplotCss));
	app.get("/favicon.ico", async (_request, reply) => reply.code(204).send());

	app.get("/api/v1/dashboard", { schema: { querystring: sinceQuery } }, async (request: FastifyRequest<{ Querystring: { since?: string } }>, reply) => {
		const since = Number(request.query.since ?? 0);
		const history = service.watch.history();
		const from = history.times.findIndex((t) => t > since);
		const start = from < 0 ? history.times.length : from;
		reply.type("application/json");
		return toJson({
			now: Date.now(),
			ready: service.ready,
			clients: service.clients.list().map((c) => describeClient(c, service.clients)),
			sessions: { open: service.sessions.size, expired: service.sessions.expired },
			llm: service.llmUsage(),
			history: {
				times: history.times.slice(start),
				pools: Object.fromEntries(Object.entries(history.pools).map(([name, samples]) => [name, samples.slice(start)])),
			},
		});
	});
}
