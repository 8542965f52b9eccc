/**
 * The SQL contract every dialect keeps (docs/adapters/sql.md), written once and run by each
 * dialect's `contract.test.ts` with a factory for its clients on the real server. What only one
 * dialect does stays in that dialect's own test files.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { SqlClient, SqlDialect } from "../../src/adapters/sql/types.ts";
import { ErrorCode } from "../../src/core/errors.ts";

export interface ContractClientOptions {
	pool?: { min?: number; max?: number };
	statementTimeoutMs?: number;
}

export interface SqlContractTarget {
	dialect: SqlDialect;
	/** A client on the dialect's test server (or a temporary file database); the suite closes it. */
	client(options?: ContractClientOptions): SqlClient;
	/** A table name this dialect's run owns. */
	table: string;
	/** Statement creating `table` with columns `id` (integer primary key) and `note` (text). */
	createTable: string;
	/** The placeholder of parameter `n` (1-based): `$1` or `?`. */
	param(n: number): string;
	/** A statement that runs on the server for about `ms` (and can be cancelled there). */
	slow(ms: number): string;
	/** Setup before the suite (server checks), and cleanup after it. */
	before?(): Promise<void>;
	after?(): Promise<void>;
	/** The statements that end or begin the transaction in this dialect, each refused on a transaction handle. */
	transactionControl: readonly string[];
}

/** Registers the shared SQL contract for one dialect. */
export function sqlContract(target: SqlContractTarget): void {
	const { dialect, table, param } = target;
	const clients: SqlClient[] = [];
	const client = (options?: ContractClientOptions): SqlClient => {
		const db = target.client(options);
		clients.push(db);
		return db;
	};
	let db: SqlClient;
	const insert = `INSERT INTO ${table} (id, note) VALUES (${param(1)}, ${param(2)})`;
	const ids = async (): Promise<number[]> => {
		const rows = await db.query<{ id: number | bigint }>(`SELECT id FROM ${table} ORDER BY id`);
		return rows.map((r) => Number(r.id));
	};

	describe(`${dialect}: the SQL contract`, () => {
		before(async () => {
			await target.before?.();
			db = client({ pool: { max: 2 } });
			await db.query(`DROP TABLE IF EXISTS ${table}`);
			await db.query(target.createTable);
		});

		after(async () => {
			await db?.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
			await Promise.all(clients.map((c) => c.close({ timeoutMs: 1_000 })));
			await target.after?.();
		});

		const clear = () => db.query(`DELETE FROM ${table}`, [], { fetch: "none" });

		describe("statements, transactions, pinned connections, connection ids", () => {
			it("fetch modes: all rows, one row or undefined, at most limit rows, the affected count, the full result", async () => {
				await clear();
				assert.equal(
					await db.batch(insert, [
						[1, "a"],
						[2, "b"],
						[3, "c"],
					]),
					3,
				);
				assert.deepEqual(await ids(), [1, 2, 3]);
				const one = await db.query<{ note: string }>(`SELECT note FROM ${table} WHERE id = ${param(1)}`, [2], { fetch: "one" });
				assert.deepEqual(one, { note: "b" });
				assert.equal(await db.query(`SELECT note FROM ${table} WHERE id = ${param(1)}`, [99], { fetch: "one" }), undefined);
				assert.equal((await db.query(`SELECT id FROM ${table} ORDER BY id`, [], { fetch: "many", limit: 2 })).length, 2);
				assert.equal(await db.query(`UPDATE ${table} SET note = ${param(1)}`, ["x"], { fetch: "none" }), 3);
				const result = await db.query(`DELETE FROM ${table} WHERE id = ${param(1)}`, [3], { fetch: "result" });
				assert.equal(result.affectedRows, 1);
				assert.deepEqual(result.rows, []);
			});

			it("a batch outside a transaction is all or nothing", async () => {
				await clear();
				await assert.rejects(
					db.batch(insert, [
						[1, "a"],
						[1, "duplicate"],
					]),
					{ code: ErrorCode.QUERY_FAILED },
				);
				assert.deepEqual(await ids(), []);
			});

			it("a transaction commits when fn returns (with its result) and rolls back when it throws (rethrowing its error)", async () => {
				await clear();
				assert.equal(await db.transaction(async (tx) => (await tx.query(insert, [1, "kept"], { fetch: "none" })) + 41), 42);
				const boom = new Error("changed my mind");
				await assert.rejects(
					db.transaction(async (tx) => {
						await tx.query(insert, [2, "undone"]);
						throw boom;
					}),
					(error) => error === boom,
				);
				assert.deepEqual(await ids(), [1]);
			});

			it("a read-only transaction refuses writes; an unknown isolation level is CONFIG_INVALID", async () => {
				await assert.rejects(
					db.transaction((tx) => tx.query(insert, [5, "no"]), { readOnly: true }),
					{ code: ErrorCode.QUERY_FAILED },
				);
				await assert.rejects(
					db.transaction(async () => {}, { isolation: "snapshot" as never }),
					{ code: ErrorCode.CONFIG_INVALID },
				);
			});

			it("the transaction handle refuses statements once the transaction ended", async () => {
				let leaked: { query(sql: string): Promise<unknown> } | undefined;
				await db.transaction(async (tx) => {
					leaked = tx;
				});
				await assert.rejects((leaked as { query(sql: string): Promise<unknown> }).query("SELECT 1"), { code: ErrorCode.LEASE_INVALID });
			});

			it("a pinned connection released inside its own open transaction goes back rolled back; await using releases it", async () => {
				await clear();
				const conn = await db.acquire();
				assert.equal(typeof conn.connectionId, "number");
				await conn.query("BEGIN");
				await conn.query(insert, [7, "left open"]);
				conn.release();
				await assert.rejects(conn.query("SELECT 1"), { code: ErrorCode.LEASE_INVALID });
				assert.deepEqual(await ids(), []);
				const active = db.stats().primary.active;
				{
					await using pinned = await db.acquire();
					await pinned.query("SELECT 1");
					assert.equal(db.stats().primary.active, active + 1);
				}
				assert.equal(db.stats().primary.active, active);
			});

			it("a connection id runs statements on one connection until released, then is CONNECTION_ID_UNKNOWN", async () => {
				await clear();
				const id = await db.acquireId();
				await db.execute(id, "BEGIN");
				await db.execute(id, insert, [8, "via id"]);
				await db.execute(id, "COMMIT");
				assert.equal(db.stats().leases.open, 1);
				db.releaseId(id);
				assert.equal(db.stats().leases.open, 0);
				await assert.rejects(db.execute(id, "SELECT 1"), { code: ErrorCode.CONNECTION_ID_UNKNOWN });
				assert.throws(() => db.releaseId(id), { code: ErrorCode.CONNECTION_ID_UNKNOWN });
				assert.deepEqual(await ids(), [8]);
			});
		});

		describe("statement calls are checked before anything runs", () => {
			it("an unknown query option is CONFIG_INVALID naming it (a misspelt fetchMode does not fetch every row)", async () => {
				await assert.rejects(db.query("SELECT 1 AS one", [], { fetchMode: "one" } as never), (error: Error & { code?: string }) => {
					assert.equal(error.code, ErrorCode.CONFIG_INVALID);
					assert.match(error.message, /fetchMode: unknown option/);
					return true;
				});
				await assert.rejects(db.batch(insert, [[1, "a"]], { fetch: "one" } as never), { code: ErrorCode.CONFIG_INVALID });
			});

			it('a limit without fetch "many" is CONFIG_INVALID: it would be ignored and every row fetched', async () => {
				for (const fetch of [undefined, "all", "one", "none", "result"] as const) {
					await assert.rejects(db.query("SELECT 1 AS one", [], { fetch, limit: 10 } as never), (error: Error & { code?: string }) => {
						assert.equal(error.code, ErrorCode.CONFIG_INVALID, String(fetch));
						assert.match(error.message, /limit: .*fetch "many"/);
						return true;
					});
				}
				const conn = await db.acquire();
				try {
					await assert.rejects(conn.query("SELECT 1 AS one", [], { limit: 10 }), { code: ErrorCode.CONFIG_INVALID });
				} finally {
					conn.release();
				}
				assert.deepEqual(await db.query("SELECT 1 AS one", [], { fetch: "many", limit: 10 }), [{ one: 1 }]);
			});

			it("a per-call timeoutMs that is not a usable duration is CONFIG_INVALID, quoted as given, and the connection is kept", async () => {
				await clear();
				await db.query("SELECT 1 AS one");
				const created = db.stats().primary.created;
				for (const timeoutMs of [0, -1, Number.NaN, "100", Number.POSITIVE_INFINITY, 2 ** 31]) {
					await assert.rejects(db.query("SELECT 1 AS one", [], { timeoutMs: timeoutMs as number }), (error: Error & { code?: string }) => {
						assert.equal(error.code, ErrorCode.CONFIG_INVALID, String(timeoutMs));
						assert.match(error.message, /timeoutMs/);
						assert.doesNotMatch(error.message, /null/);
						return true;
					});
				}
				await assert.rejects(db.batch(insert, [[1, "a"]], { timeoutMs: -1 }), { code: ErrorCode.CONFIG_INVALID });
				assert.deepEqual(await db.query("SELECT 1 AS one", [], { fetch: "one" }), { one: 1 });
				assert.equal(db.stats().primary.created, created);
				assert.deepEqual(await ids(), []);
			});

			it("pg-style query({ text, values }) is refused with what to call instead; params must be an array", async () => {
				await assert.rejects(db.query({ text: "SELECT 1", values: [] } as never), (error: Error & { code?: string }) => {
					assert.equal(error.code, ErrorCode.CONFIG_INVALID);
					assert.match(error.message, /query\(text, values, options\)/);
					return true;
				});
				await assert.rejects(db.query("SELECT 1", 5 as never), { code: ErrorCode.CONFIG_INVALID });
			});

			it("every parameter set of a batch must be an array: a flat list is CONFIG_INVALID naming the set, and nothing is written", async () => {
				await clear();
				for (const sets of [[1, 2], [[1, "a"], "b"], [[1, "a"], null], [{ id: 1 }]]) {
					await assert.rejects(db.batch(insert, sets as never), (error: Error & { code?: string }) => {
						assert.equal(error.code, ErrorCode.CONFIG_INVALID, JSON.stringify(sets));
						assert.match(error.message, /paramSets\[\d+\]: must be an array/);
						return true;
					});
				}
				const conn = await db.acquire();
				try {
					await assert.rejects(conn.batch(insert, [7] as never), { code: ErrorCode.CONFIG_INVALID });
				} finally {
					conn.release();
				}
				assert.deepEqual(await ids(), []);
			});

			it("a transaction whose fn is not a function is CONFIG_INVALID before a connection is taken", async () => {
				const acquiresBefore = db.stats().primary.acquires.ok;
				for (const fn of [undefined, "SELECT 1", { run: true }]) {
					await assert.rejects(db.transaction(fn as never), (error: Error & { code?: string }) => {
						assert.equal(error.code, ErrorCode.CONFIG_INVALID, String(fn));
						assert.match(error.message, /fn: must be a function/);
						return true;
					});
				}
				assert.equal(db.stats().primary.acquires.ok, acquiresBefore);
			});

			it("a close() refused for its options changes nothing: connection ids, transactions and statements go on", async () => {
				const own = client({ pool: { max: 2 } });
				const id = await own.acquireId();
				for (const timeoutMs of [-1, "5", Number.NaN]) {
					await assert.rejects(own.close({ timeoutMs: timeoutMs as number }), { code: ErrorCode.CONFIG_INVALID });
				}
				assert.deepEqual(await own.execute(id, "SELECT 1 AS one", [], { fetch: "one" }), { one: 1 });
				own.releaseId(id);
				assert.equal(await own.transaction(async (tx) => (await tx.query("SELECT 1 AS one", [], { fetch: "one" })) !== undefined), true);
				assert.deepEqual(await own.query("SELECT 1 AS one", [], { fetch: "one" }), { one: 1 });
				await own.close({ timeoutMs: 1_000 });
			});

			it("the same checks hold on a pinned connection and a transaction handle", async () => {
				const conn = await db.acquire();
				try {
					await assert.rejects(conn.query("SELECT 1", [], { timeoutMs: 0 }), { code: ErrorCode.CONFIG_INVALID });
					await assert.rejects(conn.query("SELECT 1", [], { bogus: true } as never), { code: ErrorCode.CONFIG_INVALID });
				} finally {
					conn.release();
				}
				await assert.rejects(
					db.transaction((tx) => tx.query("SELECT 1", [], { timeoutMs: Number.NaN })),
					{ code: ErrorCode.CONFIG_INVALID },
				);
				await assert.rejects(
					db.transaction(async () => {}, { timeoutMs: -5 }),
					{ code: ErrorCode.CONFIG_INVALID },
				);
				await assert.rejects(
					db.transaction(async () => {}, { retries: 3 } as never),
					{ code: ErrorCode.CONFIG_INVALID },
				);
			});
		});

		describe("transaction control inside transaction(fn)", () => {
			it("a COMMIT inside fn is refused before it is sent: a later throw still rolls back every write", async () => {
				await clear();
				await assert.rejects(
					db.transaction(async (tx) => {
						await tx.query(insert, [1, "before"]);
						await assert.rejects(tx.query("COMMIT"), (error: Error & { code?: string; sqlState?: string }) => {
							assert.equal(error.code, ErrorCode.QUERY_FAILED);
							assert.equal(error.sqlState, "25000");
							assert.match(error.message, /COMMIT is refused inside transaction\(fn\)/);
							return true;
						});
						await tx.query(insert, [2, "after"]);
						throw new Error("fn failed");
					}),
					/fn failed/,
				);
				assert.deepEqual(await ids(), []);
			});

			it("a ROLLBACK inside fn is refused: the writes before and after it commit together", async () => {
				await clear();
				await db.transaction(async (tx) => {
					await tx.query(insert, [1, "before"]);
					await tx.query("ROLLBACK").catch(() => {});
					await tx.query(insert, [2, "after"]);
				});
				assert.deepEqual(await ids(), [1, 2]);
			});

			it("every statement that ends or begins the transaction is refused, also after another statement in the same text", async () => {
				await clear();
				await db.transaction(async (tx) => {
					for (const sql of target.transactionControl) {
						await assert.rejects(tx.query(sql), { code: ErrorCode.QUERY_FAILED, sqlState: "25000" }, sql);
					}
					await assert.rejects(tx.batch("COMMIT", [[]]), { code: ErrorCode.QUERY_FAILED, sqlState: "25000" });
					await tx.query(insert, [3, "still inside"]);
				});
				assert.deepEqual(await ids(), [3]);
			});

			it("savepoints stay allowed: ROLLBACK TO SAVEPOINT undoes part of the transaction", async () => {
				await clear();
				await db.transaction(async (tx) => {
					await tx.query(insert, [1, "kept"]);
					await tx.query("SAVEPOINT lg_part");
					await tx.query(insert, [2, "undone"]);
					await tx.query("ROLLBACK TO SAVEPOINT lg_part");
					await tx.query("RELEASE SAVEPOINT lg_part");
				});
				assert.deepEqual(await ids(), [1]);
			});

			it("a pinned connection still runs its own BEGIN and COMMIT", async () => {
				await clear();
				const conn = await db.acquire();
				try {
					await conn.query("BEGIN");
					await conn.query(insert, [4, "own"]);
					await conn.query("COMMIT");
				} finally {
					conn.release();
				}
				assert.deepEqual(await ids(), [4]);
			});
		});

		describe("cancelling work", () => {
			it("an AbortSignal stops a running statement and rejects at once with its reason; the client keeps working", async () => {
				const controller = new AbortController();
				const started = performance.now();
				const running = db.query(target.slow(5_000), [], { signal: controller.signal });
				setTimeout(() => controller.abort(new Error("caller gave up")), 200);
				await assert.rejects(running, /caller gave up/);
				assert.ok(performance.now() - started < 1_500, `rejected after ${Math.round(performance.now() - started)} ms`);
				assert.deepEqual(await db.query("SELECT 1 AS one", [], { fetch: "one" }), { one: 1 });
			});

			it("a signal already aborted sends nothing", async () => {
				await clear();
				const reason = new Error("already");
				// Refused while waiting for a connection (ACQUIRE_ABORTED, the reason as its cause) or right after: never sent.
				await assert.rejects(
					db.query(insert, [9, "never"], { signal: AbortSignal.abort(reason) }),
					(error: Error) => error === reason || error.cause === reason,
				);
				assert.deepEqual(await ids(), []);
			});

			it("a transaction's timeoutMs cancels its running statement, rolls it back and rejects with QUERY_TIMEOUT at once", async () => {
				await clear();
				const started = performance.now();
				await assert.rejects(
					db.transaction(
						async (tx) => {
							await tx.query(insert, [1, "undone"]);
							await tx.query(target.slow(5_000));
						},
						{ timeoutMs: 300 },
					),
					{ code: ErrorCode.QUERY_TIMEOUT, name: "TransactionTimeoutError" },
				);
				assert.ok(performance.now() - started < 2_000, `rejected after ${Math.round(performance.now() - started)} ms`);
				assert.deepEqual(await ids(), []);
			});

			it("a transaction's timeoutMs that passes while it waits for a connection is QUERY_TIMEOUT saying so, not an abort by a signal nobody passed", async () => {
				const own = client({ pool: { max: 1 } });
				const held = await own.acquire();
				try {
					const started = performance.now();
					let ran = false;
					await assert.rejects(
						own.transaction(
							async () => {
								ran = true;
							},
							{ timeoutMs: 200 },
						),
						(error: Error & { code?: string; timeoutMs?: number }) => {
							assert.equal(error.code, ErrorCode.QUERY_TIMEOUT);
							assert.equal(error.name, "TransactionTimeoutError");
							assert.equal(error.timeoutMs, 200);
							assert.match(error.message, /waiting for a connection/);
							assert.doesNotMatch(error.message, /signal/);
							return true;
						},
					);
					assert.equal(ran, false);
					assert.ok(performance.now() - started < 1_000, `rejected after ${Math.round(performance.now() - started)} ms`);
				} finally {
					held.release();
				}
				assert.equal(await own.transaction(async () => "next"), "next");
			});

			it("a transaction's signal rejects it at once, even while fn awaits something else, and nothing commits", async () => {
				await clear();
				const controller = new AbortController();
				setTimeout(() => controller.abort(new Error("stop")), 100);
				let later: Promise<unknown> | undefined;
				await assert.rejects(
					db.transaction(
						async (tx) => {
							await tx.query(insert, [1, "undone"]);
							await new Promise((resolve) => setTimeout(resolve, 500));
							later = tx.query(insert, [2, "never"]);
							await later;
						},
						{ signal: controller.signal },
					),
					/stop/,
				);
				await new Promise((resolve) => setTimeout(resolve, 600));
				await assert.rejects(later as Promise<unknown>);
				assert.deepEqual(await ids(), []);
			});

			it("a transaction cut by close() fails with POOL_CLOSED, and close() keeps its deadline", async () => {
				const other = client({ pool: { max: 1 } });
				let entered!: () => void;
				const inside = new Promise<void>((resolve) => (entered = resolve));
				const tx = other.transaction(async (t) => {
					await t.query("SELECT 1");
					entered();
					await t.query(target.slow(5_000));
				});
				const outcome = tx.then(
					() => undefined,
					(error: unknown) => error,
				);
				await inside;
				const started = performance.now();
				await other.close({ timeoutMs: 300 });
				assert.ok(performance.now() - started < 2_000, `close took ${Math.round(performance.now() - started)} ms`);
				assert.equal(((await outcome) as { code?: string } | undefined)?.code, ErrorCode.POOL_CLOSED);
			});
		});
	});
}
