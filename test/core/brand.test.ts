/** instanceof across two copies of the package: errors and leases carry a Symbol.for brand. */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createPool, ErrorCode, Lease, LifeguardError, PoolClosedError, PoolTimeoutError } from "../../src/index.ts";

type Core = typeof import("../../src/index.ts");

describe("a second copy of the core", () => {
	let dir = "";
	let other: Core;

	before(async () => {
		// A copy of the whole src tree, imported from its own path: a second module instance, as two installed versions would be.
		dir = mkdtempSync(join(tmpdir(), "core-brand-"));
		cpSync(fileURLToPath(new URL("../../src", import.meta.url)), join(dir, "src"), { recursive: true });
		other = (await import(pathToFileURL(join(dir, "src", "index.ts")).href)) as Core;
		assert.notEqual(other.LifeguardError, LifeguardError, "precondition: two distinct classes");
	});

	after(() => rmSync(dir, { recursive: true, force: true }));

	it("its errors are instanceof this copy's LifeguardError and of their own class, not of a sibling class", async () => {
		const pool = other.createPool({ create: () => ({}) });
		await pool.close();
		const error = await pool.acquire().catch((e: unknown) => e);
		assert.ok(error instanceof LifeguardError);
		assert.ok(error instanceof PoolClosedError);
		assert.ok(!(error instanceof PoolTimeoutError));
		assert.ok(error instanceof Error);
		assert.equal((error as LifeguardError).code, ErrorCode.POOL_CLOSED);
	});

	it("this copy's errors are instanceof the other copy's classes too", async () => {
		const pool = createPool({ create: () => ({}) });
		await pool.close();
		const error = await pool.acquire().catch((e: unknown) => e);
		assert.ok(error instanceof other.LifeguardError);
		assert.ok(error instanceof other.PoolClosedError);
		assert.ok(!(error instanceof other.QueueFullError));
	});

	it("its leases are instanceof this copy's Lease, and a pool still refuses a lease it did not lend", async () => {
		const foreign = other.createPool({ create: () => ({}) });
		const mine = createPool({ create: () => ({}) });
		const lease = await foreign.acquire();
		assert.ok(lease instanceof Lease);
		assert.throws(() => mine.release(lease as never), { code: ErrorCode.LEASE_INVALID });
		lease.release();
		await Promise.all([foreign.close(), mine.close()]);
	});

	it("plain objects and errors are not branded", () => {
		assert.ok(!(new Error("x") instanceof LifeguardError));
		assert.ok(!({ code: "POOL_CLOSED" } instanceof LifeguardError));
		assert.ok(!({} instanceof Lease));
		assert.ok(!((null as unknown as object) instanceof Lease));
	});
});
