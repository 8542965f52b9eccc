/**
 * What identifies a workflow for per-instance cooldowns: a hash of its graph with object keys
 * sorted, so the same workflow built in a different key order cools down the same way.
 */
import { createHash } from "node:crypto";

export function workflowKeyOf(workflow: unknown): string {
	return createHash("sha256").update(canonical(workflow)).digest("hex").slice(0, 16);
}

function canonical(value: unknown): string {
	if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
	if (typeof value === "object" && value !== null) {
		const entries = Object.keys(value)
			.sort()
			.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
		return `{${entries.join(",")}}`;
	}
	return JSON.stringify(value) ?? "null";
}
