/**
 * Body validation errors that name the problem: Fastify's default says "must NOT have additional
 * properties" without saying which; this says `body/sqll is not allowed` and lists allowed values.
 */
import type { FastifySchemaValidationError } from "fastify/types/schema.js";

export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
	const lines = errors.map((e) => {
		const at = `${dataVar}${e.instancePath}`;
		const params = e.params as { additionalProperty?: string; allowedValues?: unknown[]; missingProperty?: string };
		if (e.keyword === "additionalProperties" && params.additionalProperty !== undefined) return `${at}/${params.additionalProperty} is not allowed here`;
		if (e.keyword === "required" && params.missingProperty !== undefined) return `${at}/${params.missingProperty} is required`;
		if (e.keyword === "enum" && params.allowedValues !== undefined)
			return `${at} must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
		return `${at} ${e.message ?? "is invalid"}`;
	});
	return Object.assign(new Error(lines.join("; ")), { statusCode: 400 });
}
