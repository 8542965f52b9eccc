/**
 * One open, typed code space for every LifeguardError: the core's codes and each adapter's own
 * (declared `as const` and registered in LifeguardErrorCodes), with no cast anywhere, and the
 * strings users match on unchanged. `npm run check` (tsc) is half of this test: the
 * `@ts-expect-error` lines fail it if the code type ever widens to any string.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FirestoreErrorCode, FirestoreTimeoutError } from "../../src/adapters/firestore/index.ts";
import { LlmError, LlmErrorCode } from "../../src/adapters/llm/index.ts";
import { MongoErrorCode, MongoHealthError } from "../../src/adapters/mongodb/index.ts";
import { RedisErrorCode, RedisTimeoutError } from "../../src/adapters/redis/errors.ts";
import { ErrorCode, LifeguardError, type LifeguardErrorCode } from "../../src/core/errors.ts";
import { CircuitOpenError, ResilienceErrorCode } from "../../src/resilience/errors.ts";

/** What a caller writes: one switch over every code, typed. */
function describeCode(code: LifeguardErrorCode): string {
	switch (code) {
		case ErrorCode.POOL_TIMEOUT:
			return "core";
		case LlmErrorCode.TIMEOUT:
			return "llm";
		case RedisErrorCode.REDIS_TIMEOUT:
			return "redis";
		case ResilienceErrorCode.CIRCUIT_OPEN:
			return "resilience";
		case MongoErrorCode.MONGO_HEALTH_TIMEOUT:
			return "mongodb";
		case FirestoreErrorCode.FIRESTORE_TIMEOUT:
			return "firestore";
		default:
			return "other";
	}
}

describe("error codes", () => {
	it("adapter errors are LifeguardErrors whose code is the adapter's own string, unchanged", () => {
		const errors: [LifeguardError, string, string][] = [
			[new LlmError(LlmErrorCode.TIMEOUT, "no headers in time"), "LLM_TIMEOUT", "llm"],
			[new RedisTimeoutError("cache", "GET", 50), "REDIS_TIMEOUT", "redis"],
			[new CircuitOpenError("api.example.com", undefined, undefined), "CIRCUIT_OPEN", "resilience"],
			[new MongoHealthError("docs", new Error("down"), 100), "MONGO_HEALTH_TIMEOUT", "mongodb"],
			[new FirestoreTimeoutError("store", "get", "users", 100), "FIRESTORE_TIMEOUT", "firestore"],
		];
		for (const [error, code, family] of errors) {
			assert.ok(error instanceof LifeguardError, error.name);
			assert.equal(error.code, code);
			assert.equal(describeCode(error.code), family);
		}
	});

	it("the code type holds exactly the declared codes (checked by tsc)", () => {
		const known: LifeguardErrorCode[] = [ErrorCode.CONFIG_INVALID, LlmErrorCode.CLOSED, RedisErrorCode.REDIS_COMMAND_FAILED];
		// @ts-expect-error: a code nobody declared is not a LifeguardErrorCode
		const unknown: LifeguardErrorCode = "NOT_A_CODE";
		// @ts-expect-error: LifeguardError takes only declared codes
		const made = new LifeguardError("NOT_A_CODE", "x");
		const llm = new LlmError(LlmErrorCode.AUTH, "bad key");
		// @ts-expect-error: an LlmError's code is narrowed to the LLM codes
		const core: typeof llm.code = ErrorCode.POOL_TIMEOUT;
		assert.deepEqual(known, ["CONFIG_INVALID", "LLM_CLOSED", "REDIS_COMMAND_FAILED"]);
		assert.equal(describeCode(unknown), "other");
		assert.equal(made.code, "NOT_A_CODE");
		assert.equal(core, "POOL_TIMEOUT");
	});
});
