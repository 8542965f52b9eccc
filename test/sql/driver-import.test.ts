import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DriverMissingError, importDriver } from "../../src/adapters/sql/errors.ts";
import { ErrorCode } from "../../src/core/errors.ts";

describe("optional drivers", () => {
	it("a driver that is not installed is DRIVER_MISSING, saying what to install, with the import error as cause", async () => {
		const error = (await importDriver(() => import("lifeguard-no-such-driver" as string), "lifeguard-no-such-driver", "example").catch(
			(e) => e,
		)) as DriverMissingError;
		assert.ok(error instanceof DriverMissingError);
		assert.equal(error.code, ErrorCode.DRIVER_MISSING);
		assert.match(error.message, /npm install lifeguard-no-such-driver/);
		assert.equal((error.cause as { code: string }).code, "ERR_MODULE_NOT_FOUND");
	});

	it("a hint replaces npm install where that is not the fix", () => {
		const error = new DriverMissingError("node:sqlite", "sqlite", new Error("No such built-in module"), "use Node.js 22.13 or later");
		assert.equal(error.code, ErrorCode.DRIVER_MISSING);
		assert.equal(error.message, 'the sqlite adapter needs "node:sqlite", which is missing: use Node.js 22.13 or later');
	});

	it("other import failures are not disguised as a missing driver", async () => {
		const broken = new SyntaxError("Unexpected token");
		await assert.rejects(
			importDriver(() => Promise.reject(broken), "x", "example"),
			(e) => e === broken,
		);
	});

	it("an installed driver is returned as imported", async () => {
		const pg = await importDriver(() => import("pg"), "pg", "postgres");
		assert.equal(typeof pg.default.Client, "function");
	});
});
