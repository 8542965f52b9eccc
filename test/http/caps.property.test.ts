/** Property: over any burst across origins, requests in flight never exceed the per-origin cap or the global budget, and every request is served. */
import assert from "node:assert/strict";
import type http from "node:http";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { createHttpClient } from "../../src/adapters/http/index.ts";
import { startHttp, type TestServer } from "./support/servers.ts";

const ORIGINS = 3;
let servers: TestServer<http.Server>[] = [];
const inFlight = Array(ORIGINS).fill(0);
let total = 0;
let peakTotal = 0;
const peak = Array(ORIGINS).fill(0);

before(async () => {
	servers = await Promise.all(
		Array.from({ length: ORIGINS }, (_, i) =>
			startHttp((req, res) => {
				inFlight[i]++;
				total++;
				peak[i] = Math.max(peak[i], inFlight[i]);
				peakTotal = Math.max(peakTotal, total);
				const delay = Number(new URL(req.url ?? "/", "http://x").searchParams.get("d"));
				setTimeout(() => {
					inFlight[i]--;
					total--;
					res.end("ok");
				}, delay);
			}),
		),
	);
});
after(() => Promise.all(servers.map((s) => s.close())));

describe("caps under any burst", () => {
	it("in flight per origin <= maxConnectionsPerOrigin, over all <= maxConnections, all served", async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.integer({ min: 1, max: 4 }),
				fc.integer({ min: 0, max: 3 }),
				fc.array(fc.record({ origin: fc.integer({ min: 0, max: ORIGINS - 1 }), delay: fc.integer({ min: 0, max: 8 }) }), { minLength: 1, maxLength: 16 }),
				async (maxConnections, perOriginLess, burst) => {
					const maxConnectionsPerOrigin = Math.max(1, maxConnections - perOriginLess);
					peak.fill(0);
					peakTotal = 0;
					const client = createHttpClient({ name: "property", maxConnections, maxConnectionsPerOrigin });
					try {
						const statuses = await Promise.all(
							burst.map(({ origin, delay }) =>
								client.request({ origin: servers[origin].origin, path: `/?d=${delay}`, method: "GET" }).then(async (r) => {
									await r.body.dump();
									return r.statusCode;
								}),
							),
						);
						assert.ok(statuses.every((s) => s === 200));
						assert.ok(peakTotal <= maxConnections, `peak ${peakTotal} > maxConnections ${maxConnections}`);
						for (const p of peak) assert.ok(p <= maxConnectionsPerOrigin, `peak ${p} > maxConnectionsPerOrigin ${maxConnectionsPerOrigin}`);
						assert.ok(client.stats().connections <= maxConnections);
					} finally {
						await client.close();
					}
				},
			),
			{ numRuns: 25 },
		);
	});
});
