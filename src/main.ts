/**
 * `npm start`: lifeguard's main job. Until `lifeguard serve` exists, a short demonstration on
 * embedded parts only (no server to set up):
 * 1. the embedded default, SQLite: a WAL file database behind a pool of 4 connections, each in
 *    its own process, taking a batch, 200 concurrent reads, transactions and a runaway query;
 * 2. a pool of real TCP connections to a line-echo server started in this process, 500 requests
 *    from 50 callers through 5 connections, with a server-side cut mid-run that it recovers from.
 * Each part prints its pool's statistics.
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteClient } from "./adapters/sqlite/index.ts";
import { createPool, type HistogramSummary, type PoolStats } from "./index.ts";

await sqliteJob();
await echoJob();

async function sqliteJob(): Promise<void> {
	console.log("── SQLite, the embedded default ──");
	const dir = mkdtempSync(join(tmpdir(), "lifeguard-start-"));
	const db = createSqliteClient({ filename: join(dir, "orders.db"), pool: { min: 2 } });
	try {
		await db.start();
		await db.query("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, total REAL NOT NULL)", [], { fetch: "none" });
		const rows = Array.from({ length: 1_000 }, (_, i) => [`customer-${i % 50}`, (i % 97) + 0.5]);
		const inserted = await db.batch("INSERT INTO orders (customer, total) VALUES (?, ?)", rows);
		console.log(`batch: ${inserted} orders in one round trip`);

		const t0 = performance.now();
		const totals = await Promise.all(
			Array.from({ length: 200 }, (_, i) =>
				db.query<{ n: number; sum: number }>("SELECT count(*) AS n, sum(total) AS sum FROM orders WHERE customer = ?", [`customer-${i % 50}`], {
					fetch: "one",
				}),
			),
		);
		console.log(
			`200 concurrent reads over ${db.stats().primary.total} connections in ${(performance.now() - t0).toFixed(0)} ms (each customer: ${totals[0]?.n} orders)`,
		);

		await Promise.all(
			Array.from({ length: 20 }, () =>
				db.transaction(async (tx) => {
					const top = await tx.query<{ id: number }>("SELECT id FROM orders ORDER BY total DESC LIMIT 1", [], { fetch: "one" });
					await tx.query("UPDATE orders SET total = total - 1 WHERE id = ?", [top?.id], { fetch: "none" });
				}),
			),
		);
		console.log("20 concurrent read-then-write transactions committed without a lost update");

		const t1 = performance.now();
		const runaway = await db
			.query("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n", [], { timeoutMs: 300 })
			.catch((error: Error & { code?: string }) => error.code);
		console.log(`a runaway query: ${runaway} after ${(performance.now() - t1).toFixed(0)} ms; its process was stopped and replaced`);
		console.log(JSON.stringify(summary(db.stats().primary), null, 2));
	} finally {
		await db.close();
		rmSync(dir, { recursive: true, force: true });
	}
}

async function echoJob(): Promise<void> {
	console.log("\n── a pool of TCP connections that survives a server-side cut ──");

	/** One TCP connection that sends a line and reads the echoed line back. */
	class LineClient {
		readonly socket: net.Socket;
		#buffer = "";
		#pending: { resolve: (line: string) => void; reject: (error: Error) => void } | undefined;

		constructor(socket: net.Socket) {
			this.socket = socket;
			socket.setEncoding("utf8");
			socket.on("error", () => {});
			socket.on("close", () => {
				const pending = this.#pending;
				this.#pending = undefined;
				pending?.reject(new Error("socket closed"));
			});
			socket.on("data", (chunk: string) => {
				this.#buffer += chunk;
				const end = this.#buffer.indexOf("\n");
				if (end >= 0 && this.#pending) {
					const line = this.#buffer.slice(0, end);
					this.#buffer = this.#buffer.slice(end + 1);
					const { resolve } = this.#pending;
					this.#pending = undefined;
					resolve(line);
				}
			});
		}

		request(line: string): Promise<string> {
			return new Promise((resolve, reject) => {
				if (this.socket.destroyed) return reject(new Error("socket closed"));
				this.#pending = { resolve, reject };
				this.socket.write(`${line}\n`);
			});
		}
	}

	const tracked = new Set<net.Socket>();
	const server = net.createServer((socket) => {
		tracked.add(socket);
		socket.on("close", () => tracked.delete(socket));
		socket.on("error", () => {});
		socket.pipe(socket);
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const { port } = server.address() as net.AddressInfo;

	const pool = createPool<LineClient>({
		name: "echo",
		min: 2,
		max: 5,
		create: (signal) =>
			new Promise((resolve, reject) => {
				const socket = net.connect({ port, host: "127.0.0.1", signal });
				socket.once("connect", () => resolve(new LineClient(socket)));
				socket.once("error", reject);
			}),
		destroy: (client) => void client.socket.destroy(),
		// A socket that closes while idle is reported at once instead of failing the next borrower.
		afterCreate: (client) => void client.socket.once("close", () => pool.invalidate(client)),
		validate: (client) => !client.socket.destroyed,
		classifyError: (error) => ((error as Error).message === "socket closed" ? "connection" : "caller"),
	});
	pool.on("connectionClosed", ({ connectionId, reason }) => {
		if (reason !== "poolClosed") console.log(`  connection ${connectionId} closed (${reason})`);
	});

	await pool.start();
	console.log(`pool "${pool.name}" ready with ${pool.size} warm connections (min 2, max 5)`);

	let failures = 0;
	const t0 = performance.now();
	await Promise.all(
		Array.from({ length: 50 }, async (_, caller) => {
			for (let i = 0; i < 10; i++) {
				if (caller === 0 && i === 5) {
					console.log("  cutting every server-side connection…");
					for (const socket of tracked) socket.destroy();
				}
				try {
					const reply = await pool.use((client) => client.request(`caller ${caller} request ${i}`));
					if (reply !== `caller ${caller} request ${i}`) throw new Error(`wrong reply: ${reply}`);
				} catch {
					failures++;
				}
			}
		}),
	);
	const elapsed = performance.now() - t0;
	console.log(
		`500 requests in ${elapsed.toFixed(0)} ms; ${failures} failed with the cut (the caller sees the error), the pool replaced the dead connections by itself`,
	);

	console.log(JSON.stringify(summary(pool.stats()), null, 2));
	await pool.close();
	server.close();
}

function summary(s: PoolStats): Record<string, unknown> {
	return {
		pool: s.name,
		total: s.total,
		idle: s.idle,
		peak: s.peak,
		created: s.created,
		destroyedByReason: Object.fromEntries(Object.entries(s.destroyedByReason).filter(([, n]) => n > 0)),
		acquires: s.acquires,
		waitMs: round(s.waitMs),
		useMs: round(s.useMs),
		reuseRatio: Number(s.reuseRatio.toFixed(3)),
		healthScore: s.healthScore,
	};
}

function round(h: HistogramSummary): Record<string, number> {
	return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v.toFixed(3))]));
}
