/**
 * The service's SQL pools from the config file's `pools:` section: `kind` picks the adapter, the
 * other keys are that adapter's options (checked by the adapter, every problem at once).
 */
import { createLlmClient, LlmClient } from "../adapters/llm/client.ts";
import type { LlmClientOptions } from "../adapters/llm/options.ts";
import type { SqlClient } from "../adapters/sql/types.ts";
import { ConfigError, type ConfigProblem } from "../core/errors.ts";
import { didYouMean } from "./did-you-mean.ts";
import { ServedClients } from "./served-clients.ts";

const KINDS = ["postgres", "mysql", "sqlite", "llm"] as const;
type Kind = (typeof KINDS)[number];

export async function poolsFromConfig(section: unknown, source: string): Promise<ServedClients> {
	const served = new ServedClients();
	if (section === undefined || section === null) return served;
	if (typeof section !== "object" || Array.isArray(section))
		throw new ConfigError("lifeguard serve", [{ path: "pools", message: "must be a mapping of pool names to their options", source }]);
	const problems: ConfigProblem[] = [];
	const built: { name: string; kind: Kind; options: Record<string, unknown> }[] = [];
	for (const [name, raw] of Object.entries(section as Record<string, unknown>)) {
		if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
			problems.push({ path: `pools.${name}`, message: "must be a mapping with a kind", source });
			continue;
		}
		const { kind, ...options } = raw as Record<string, unknown>;
		if (!KINDS.includes(kind as Kind)) {
			const guess = typeof kind === "string" ? didYouMean(kind, KINDS) : undefined;
			problems.push({
				path: `pools.${name}.kind`,
				message: `must be one of ${KINDS.join(", ")}${guess === undefined ? "" : `; did you mean "${guess}"?`}`,
				source,
			});
			continue;
		}
		built.push({ name, kind: kind as Kind, options });
	}
	const clients: { name: string; kind: Kind; client: SqlClient | LlmClient }[] = [];
	for (const { name, kind, options } of built) {
		try {
			if (kind === "llm") {
				clients.push({ name, kind, client: createLlmClient({ ...(options as unknown as LlmClientOptions), name }) });
				continue;
			}
			const pool = { ...(options.pool as Record<string, unknown> | undefined), name };
			clients.push({ name, kind, client: await createSql(kind, { ...options, pool }) });
		} catch (error) {
			if (!(error instanceof ConfigError)) throw error;
			for (const p of error.problems) problems.push({ ...p, path: `pools.${name}.${p.path}`, source });
		}
	}
	if (problems.length > 0) {
		await Promise.allSettled(clients.map(({ client }) => client.close()));
		throw new ConfigError("lifeguard serve", problems);
	}
	for (const { client } of clients) {
		if (client instanceof LlmClient) served.addLlm(client);
		else served.addSql(client);
	}
	return served;
}

async function createSql(kind: Exclude<Kind, "llm">, options: Record<string, unknown>): Promise<SqlClient> {
	if (kind === "postgres") return (await import("../adapters/postgres/index.ts")).createPostgresClient(options as never);
	if (kind === "mysql") return (await import("../adapters/mysql/index.ts")).createMysqlClient(options as never);
	return (await import("../adapters/sqlite/index.ts")).createSqliteClient(options as never);
}
