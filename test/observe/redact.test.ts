/** redactSecrets / redactValue: the last line before a response or a log line. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { redactSecrets, redactValue } from "../../src/observe/redact.ts";

describe("redactSecrets", () => {
	it("removes URL credentials, secret pairs, bearer tokens and API keys, and leaves the rest", () => {
		const cases: [string, string][] = [
			["connect ECONNREFUSED postgres://app:s3cr3t@db:5432/app", "connect ECONNREFUSED postgres://***@db:5432/app"],
			["redis://:pw@cache:6379/0 and mysql://root@db/test", "redis://***@cache:6379/0 and mysql://***@db/test"],
			["password=hunter2; user=app", "password=***; user=app"],
			['token: "abc def" apiKey=xyz', "token: *** apiKey=***"],
			["Authorization: Bearer eyJhbGciOi.payload.sig", "Authorization: Bearer ***"],
			["key sk-proj-ABCDEFGHIJKLMNOP used", "key sk-*** used"],
			['pool "orders": no connection after 500 ms', 'pool "orders": no connection after 500 ms'],
		];
		for (const [input, expected] of cases) assert.equal(redactSecrets(input), expected, input);
	});

	it("redactValue masks secret-named keys at any depth and redacts strings, keeping numbers and shape", () => {
		assert.deepEqual(redactValue({ max: 10, password: "x", nested: [{ apiKey: "y", url: "https://u:p@h/" }], token: null }), {
			max: 10,
			password: "***",
			nested: [{ apiKey: "***", url: "https://***@h/" }],
			token: null,
		});
	});
});
