/**
 * `lifeguard/compat/pg` and the real `pg.Pool` driven through the same random sequences of
 * connect, release, release(true), query and end (fast-check), on an in-memory client class
 * given as the `Client` option: after every step both pools show the same counters, the same
 * events, and no client is ever held by two callers.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import fc from "fast-check";
import pg from "pg";
import * as compat from "../../src/compat/pg.ts";

/** A pg client that needs no server: connect and query answer on the next turn of the event loop. */
class MemoryClient extends EventEmitter {
	static opened = 0;
	readonly id = ++MemoryClient.opened;
	_queryable = true;
	_ending = false;
	connect(callback: (error?: Error) => void): void {
		setImmediate(() => callback());
	}
	query(_text: unknown, _values: unknown, callback: (error: Error | undefined, result: unknown) => void): void {
		setImmediate(() => callback(undefined, { rows: [{ id: this.id }] }));
	}
	end(callback?: () => void): Promise<void> | undefined {
		this._ending = true;
		if (callback) {
			setImmediate(callback);
			return undefined;
		}
		return Promise.resolve();
	}
	ref(): void {}
	unref(): void {}
}

type Step = { op: "connect" } | { op: "release"; index: number; destroy: boolean } | { op: "query" };

const step: fc.Arbitrary<Step> = fc.oneof(
	fc.constant<Step>({ op: "connect" }),
	fc.record({ op: fc.constant("release" as const), index: fc.nat(7), destroy: fc.boolean() }),
	fc.constant<Step>({ op: "query" }),
);

/** Lets connects, queries and releases on both pools run to completion. */
async function settle(): Promise<void> {
	for (let i = 0; i < 6; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface Driven {
	pool: compat.Pool;
	held: pg.PoolClient[];
	holders: Map<pg.PoolClient, number>;
	events: string[];
	failures: string[];
}

function drive(pool: compat.Pool): Driven {
	const d: Driven = { pool, held: [], holders: new Map(), events: [], failures: [] };
	for (const e of ["connect", "acquire", "release", "remove"]) pool.on(e, () => d.events.push(e));
	return d;
}

function apply(d: Driven, s: Step): void {
	if (s.op === "connect") {
		d.pool.connect().then(
			(client) => {
				d.holders.set(client, (d.holders.get(client) ?? 0) + 1);
				d.held.push(client);
			},
			(error: Error) => d.failures.push(error.message),
		);
	} else if (s.op === "query") {
		d.pool.query("SELECT 1").catch((error: Error) => d.failures.push(error.message));
	} else if (d.held.length > 0) {
		const client = d.held.splice(s.index % d.held.length, 1)[0];
		d.holders.set(client, (d.holders.get(client) ?? 1) - 1);
		client.release(s.destroy ? true : undefined);
	}
}

describe("compat/pg against pg.Pool under random operation sequences", () => {
	it("shows the same totalCount, idleCount, waitingCount and events after every step, and never lends a client twice", { timeout: 60_000 }, async () => {
		await fc.assert(
			fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(step, { minLength: 1, maxLength: 30 }), async (max, steps) => {
				const config = { max, idleTimeoutMillis: 0, Client: MemoryClient as unknown as compat.ClientConstructor };
				const theirs = drive(new pg.Pool(config as unknown as pg.PoolConfig) as unknown as compat.Pool);
				const ours = drive(new compat.Pool(config));
				try {
					for (const s of steps) {
						apply(theirs, s);
						apply(ours, s);
						await settle();
						const counters = (d: Driven) => ({ total: d.pool.totalCount, idle: d.pool.idleCount, waiting: d.pool.waitingCount, held: d.held.length });
						assert.deepEqual(counters(ours), counters(theirs), `after ${JSON.stringify(s)}`);
						assert.deepEqual(ours.events, theirs.events, `events after ${JSON.stringify(s)}`);
						for (const [, holders] of ours.holders) assert.ok(holders <= 1, "a client held by two callers");
						assert.ok(ours.pool.totalCount <= max);
					}
					assert.deepEqual(ours.failures, theirs.failures);
				} finally {
					// Queued callers get clients as others come back: give everything back until nobody holds or waits.
					for (let round = 0; round < 20 && [theirs, ours].some((d) => d.held.length > 0 || d.pool.waitingCount > 0); round++) {
						for (const d of [theirs, ours]) for (const client of d.held.splice(0)) client.release();
						await settle();
					}
					await Promise.all([theirs.pool.end(), ours.pool.end()]);
				}
			}),
			{ numRuns: 40 },
		);
	});
});
