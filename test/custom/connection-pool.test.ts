/** createConnectionPool: custom connection classes pooled, against a real local TCP server. */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type ConnectionPool, type ConnectionPoolOptions, type CustomConnection, createConnectionPool } from "../../src/core/custom.ts";
import { ErrorCode, type LifeguardError } from "../../src/core/errors.ts";
import { Pool } from "../../src/core/pool.ts";
import { CommandError, LineClient, LineServer } from "./line-protocol.ts";

let server: LineServer;
const pools: ConnectionPool<CustomConnection>[] = [];

function pool(extra: Partial<ConnectionPoolOptions<LineClient>> = {}): ConnectionPool<LineClient> {
	const p = createConnectionPool<LineClient>({ connect: () => new LineClient(server.port), ...extra });
	pools.push(p as unknown as ConnectionPool<CustomConnection>);
	return p;
}

before(async () => {
	server = await LineServer.start();
});
beforeEach(async () => {
	server.silent = false;
	server.dropAll();
	await server.drained();
	server.accepted = 0;
	server.peakOpen = 0;
});
after(async () => {
	for (const p of pools) await p.close({ timeoutMs: 200 });
	await server.stop();
});

describe("execute", () => {
	it("borrows a connection, runs execute and gives it back for the next call", async () => {
		const p = pool();
		assert.equal(await p.execute("ECHO one"), "one");
		assert.equal(await p.execute("PING"), "PONG");
		assert.equal(server.accepted, 1);
		assert.equal(p.idleCount, 1);
		assert.equal(p.activeCount, 0);
	});

	it("never opens more than max connections under concurrent calls", async () => {
		const p = pool({ max: 3 });
		const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => p.execute(`SLOW 15 r${i}`)));
		assert.deepEqual(
			replies,
			Array.from({ length: 12 }, (_, i) => `r${i}`),
		);
		assert.equal(server.peakOpen, 3);
		assert.equal(server.accepted, 3);
	});

	it("keeps the connection when execute fails but the connection is healthy", async () => {
		const p = pool();
		await assert.rejects(p.execute("FAIL"), CommandError);
		assert.equal(await p.execute("PING"), "PONG");
		assert.equal(server.accepted, 1);
		assert.equal(p.stats().destroyed, 0);
	});

	it("destroys the connection when execute fails because the connection broke", async () => {
		const p = pool();
		await p.execute("PING");
		await assert.rejects(p.execute("DROP"), /connection closed by the server/);
		assert.equal(p.stats().destroyedByReason.error, 1);
		assert.equal(await p.execute("ECHO again"), "again");
		assert.equal(server.accepted, 2);
	});

	it("lets classifyError decide, when given, instead of isHealthy", async () => {
		const p = pool({ classifyError: (error) => (error instanceof CommandError ? "connection" : "caller") });
		await assert.rejects(p.execute("FAIL"), CommandError);
		assert.equal(p.stats().destroyedByReason.error, 1);
		await p.execute("PING");
		assert.equal(server.accepted, 2);
	});

	it("destroys the connection after any failure when the class has no isHealthy and there is no classifyError", async () => {
		class Bare implements CustomConnection {
			readonly #client: LineClient;
			constructor(port: number) {
				this.#client = new LineClient(port);
			}
			connect(signal: AbortSignal) {
				return this.#client.connect(signal);
			}
			disconnect() {
				return this.#client.disconnect();
			}
			execute(line: string) {
				return this.#client.execute(line);
			}
		}
		const p = createConnectionPool({ connect: () => new Bare(server.port) });
		pools.push(p as unknown as ConnectionPool<CustomConnection>);
		await assert.rejects(p.execute("FAIL"), CommandError);
		assert.equal(p.stats().destroyedByReason.error, 1);
		assert.equal(await p.execute("PING"), "PONG");
	});
});

describe("connect and disconnect", () => {
	it("aborts connect at createTimeoutMs when the server accepts but never greets, and closes the socket", async () => {
		server.silent = true;
		const p = pool({ createTimeoutMs: 100, acquireTimeoutMs: 250 });
		const err = (await p.execute("PING").catch((e: unknown) => e)) as LifeguardError;
		assert.equal(err.code, ErrorCode.POOL_TIMEOUT);
		assert.equal((err.cause as LifeguardError).code, ErrorCode.CREATE_TIMEOUT);
		await server.drained();
	});

	it("disconnects a connection whose connect failed, and reports the failure as the cause", async () => {
		const closedPort = await new Promise<number>((resolve) => {
			const probe = net.createServer().listen(0, "127.0.0.1", () => {
				const { port } = probe.address() as net.AddressInfo;
				probe.close(() => resolve(port));
			});
		});
		const clients: LineClient[] = [];
		const p = pool({
			connect: () => {
				const client = new LineClient(closedPort);
				clients.push(client);
				return client;
			},
			acquireTimeoutMs: 200,
		});
		const err = (await p.execute("PING").catch((e: unknown) => e)) as LifeguardError;
		assert.equal(err.code, ErrorCode.POOL_TIMEOUT);
		assert.match(String((err.cause as Error).message), /ECONNREFUSED/);
		assert.ok(clients.length >= 1);
		assert.ok(clients.every((c) => c.disconnects === 1));
	});

	it("replaces an idle connection that isHealthy reports dead before lending it", async () => {
		const p = pool({ validateAfterIdleMs: 5 });
		await p.execute("PING");
		server.dropAll();
		await sleep(20);
		assert.equal(await p.execute("ECHO fresh"), "fresh");
		assert.equal(server.accepted, 2);
		assert.equal(p.stats().validationFailures, 1);
	});

	it("close() disconnects every connection", async () => {
		const p = pool({ max: 4 });
		await Promise.all(Array.from({ length: 4 }, () => p.execute("SLOW 5 x")));
		assert.equal(server.sockets.size, 4);
		await p.close();
		await server.drained();
	});

	it("a missing connect is a CONFIG_INVALID error naming it", () => {
		assert.throws(
			() => createConnectionPool({} as ConnectionPoolOptions<LineClient>),
			(err: LifeguardError) => {
				assert.equal(err.code, ErrorCode.CONFIG_INVALID);
				assert.match(err.message, /connect: required/);
				return true;
			},
		);
	});
});

describe("as a pool", () => {
	it("is a lifeguard Pool: use(), acquire() and stats work as for any pool", async () => {
		const p = pool({ name: "lines", min: 1 });
		assert.ok(p instanceof Pool);
		await p.start();
		assert.equal(server.accepted, 1);
		assert.equal(await p.use((conn) => conn.execute("ECHO used")), "used");
		const lease = await p.acquire();
		assert.equal(await lease.resource.execute("PING"), "PONG");
		lease.release();
		assert.equal(p.stats().name, "lines");
		assert.equal(p.stats().acquires.ok, 2);
	});
});
