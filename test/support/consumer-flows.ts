/**
 * What the drop-in tests (test/compat/*-consumers.test.ts) run through libraries nobody here
 * wrote: the same flow on PostgreSQL and on MariaDB, so that the two drop-ins are held to the
 * same standard, and the scratch tables those flows need.
 */
import assert from "node:assert/strict";
import { after, before } from "node:test";
import type { Generated, Kysely } from "kysely";
import { requireService, type services } from "./services.ts";

/** A connection that runs DDL: a pg Client, a mysql2 promise pool. */
export interface AdminConnection {
	query(sql: string): Promise<unknown>;
	end(): Promise<void>;
}

/**
 * Registers the file's `before` and `after`: waits for `service`, opens the admin connection,
 * drops `tables` and runs `create` before the tests; drops `tables` and closes after. Returns
 * the admin connection for the tests (set once `before` has run).
 */
export function scratchTables<A extends AdminConnection>(service: keyof typeof services, open: () => Promise<A>, tables: string[], create: string[]): () => A {
	let admin: A | undefined;
	const drop = `DROP TABLE IF EXISTS ${tables.join(", ")}`;
	before(async () => {
		await requireService(service);
		admin = await open();
		await admin.query(drop);
		for (const statement of create) await admin.query(statement);
	});
	after(async () => {
		if (admin === undefined) return;
		await admin.query(drop);
		await admin.end();
	});
	return () => {
		if (admin === undefined) throw new Error("scratchTables: the admin connection is opened in before()");
		return admin;
	};
}

/** The table Kysely's flow uses; each file creates it in its server's SQL. */
export interface PeopleDb {
	compat_kysely_people: { id: Generated<number>; name: string; age: number | null };
}

/**
 * Kysely's everyday flow on an empty `compat_kysely_people`: an insert, a committed
 * transaction, a rolled-back one, an ordered select and a stream (a cursor on PostgreSQL).
 * Five checkouts in all; Ada and Grace are left.
 */
export async function kyselyPeopleFlow(db: Kysely<PeopleDb>, dialect: "postgres" | "mysql"): Promise<void> {
	// What the insert hands back goes through the drop-in too: RETURNING's rows on PostgreSQL, the insert id on MySQL.
	if (dialect === "postgres") {
		const inserted = await db.insertInto("compat_kysely_people").values({ name: "Ada", age: 36 }).returning("id").executeTakeFirstOrThrow();
		assert.equal(inserted.id, 1);
	} else {
		const inserted = await db.insertInto("compat_kysely_people").values({ name: "Ada", age: 36 }).executeTakeFirstOrThrow();
		assert.equal(inserted.numInsertedOrUpdatedRows, 1n);
		assert.equal(Number(inserted.insertId), 1);
	}
	await db.transaction().execute(async (trx) => {
		await trx.insertInto("compat_kysely_people").values({ name: "Grace", age: 45 }).execute();
	});
	await assert.rejects(
		db.transaction().execute(async (trx) => {
			await trx.insertInto("compat_kysely_people").values({ name: "Rolled back", age: 1 }).execute();
			throw new Error("compat kysely rollback");
		}),
		{ message: "compat kysely rollback" },
	);
	const people = await db.selectFrom("compat_kysely_people").select(["name", "age"]).orderBy("id").execute();
	assert.deepEqual(people, [
		{ name: "Ada", age: 36 },
		{ name: "Grace", age: 45 },
	]);
	const streamed: string[] = [];
	// A chunk of one row: on PostgreSQL the cursor is read row by row (MySQL streams ignore the size).
	for await (const row of db.selectFrom("compat_kysely_people").select("name").orderBy("id").stream(1)) streamed.push(row.name);
	assert.deepEqual(streamed, ["Ada", "Grace"]);
}

/** A user row of Drizzle's flow. */
export interface UserRow {
	id: number;
	name: string;
}

/**
 * What Drizzle's flow uses of a database, PostgreSQL's and MySQL's alike: the query builders
 * with `Table` (the dialect's `users` table, columns `id` and `name`).
 */
export interface DrizzleUsers<Table extends { id: unknown }, Condition> {
	insert(table: Table): { values(row: UserRow): PromiseLike<unknown>; values(rows: UserRow[]): PromiseLike<unknown> };
	update(table: Table): { set(values: { name: string }): { where(condition: Condition): PromiseLike<unknown> } };
	select(): { from(table: Table): { orderBy(column: Table["id"]): PromiseLike<UserRow[]> } };
	transaction(run: (tx: { insert(table: Table): { values(rows: UserRow): PromiseLike<unknown> } }) => Promise<void>): Promise<void>;
}

/**
 * Drizzle's everyday flow on an empty users table: a multi-row insert, an update, an ordered
 * select and a transaction that rolls back. Ada and Grace are left.
 */
export async function drizzleUsersFlow<Table extends { id: unknown }, Condition>(
	db: DrizzleUsers<Table, Condition>,
	users: Table,
	idIs: (id: number) => Condition,
): Promise<void> {
	await db.insert(users).values([
		{ id: 1, name: "Ada" },
		{ id: 2, name: "Linus" },
	]);
	await db.update(users).set({ name: "Grace" }).where(idIs(2));
	assert.deepEqual(await db.select().from(users).orderBy(users.id), [
		{ id: 1, name: "Ada" },
		{ id: 2, name: "Grace" },
	]);
	await assert.rejects(
		db.transaction(async (tx) => {
			await tx.insert(users).values({ id: 3, name: "Rolled back" });
			throw new Error("compat drizzle rollback");
		}),
		{ message: "compat drizzle rollback" },
	);
}
