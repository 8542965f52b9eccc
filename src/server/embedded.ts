/**
 * What `lifeguard serve` fronts without a config file: an SQLite database in the data directory
 * and the demo upstream, with a trickle of demo traffic so that the dashboard has something live.
 */
import { join } from "node:path";
import { createSqliteClient } from "../adapters/sqlite/index.ts";
import { startDemoUpstream } from "./demo-upstream.ts";
import { ServedClients } from "./served-clients.ts";

export const EMBEDDED_SQL_POOL = "embedded";
export const DEMO_UPSTREAM_POOL = "demo-upstream";

export interface Embedded {
	readonly clients: ServedClients;
	/** Creates the demo table and starts the demo traffic (a query and an echo every `everyMs`). */
	startTraffic(everyMs?: number): Promise<void>;
	/** Stops the demo traffic and closes the demo upstream's server (the clients close with the rest). */
	stop(): Promise<void>;
}

export async function embeddedDefault(dataDir: string): Promise<Embedded> {
	const clients = new ServedClients();
	const db = createSqliteClient({ filename: join(dataDir, "embedded.db"), pool: { name: EMBEDDED_SQL_POOL, min: 1, max: 4 } });
	clients.addSql(db);
	const upstream = await startDemoUpstream(DEMO_UPSTREAM_POOL);
	clients.add(upstream.client);
	let timer: NodeJS.Timeout | undefined;
	let tick = 0;
	return {
		clients,
		async startTraffic(everyMs = 500) {
			if (timer !== undefined) return;
			// Not before the service watches the pools: their first connections' events belong in the dashboard.
			await db.query("CREATE TABLE IF NOT EXISTS demo_visits (id INTEGER PRIMARY KEY, at TEXT NOT NULL)", [], { fetch: "none" });
			timer = setInterval(() => {
				tick++;
				// Failures (during shutdown, say) are what the dashboard is there to show; they must not crash the service.
				void db.query("INSERT INTO demo_visits (at) VALUES (?)", [new Date().toISOString()], { fetch: "none" }).catch(() => {});
				if (tick % 20 === 0)
					void db.query("DELETE FROM demo_visits WHERE id < (SELECT max(id) - 1000 FROM demo_visits)", [], { fetch: "none" }).catch(() => {});
				void upstream.ping(`demo ${tick}`).catch(() => {});
			}, everyMs);
			timer.unref();
		},
		async stop() {
			clearInterval(timer);
			timer = undefined;
		},
	};
}
