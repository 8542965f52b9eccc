import type { ResolvedConfig } from "../../config/load.ts";
import type { Logger } from "./logger.ts";

/** One info line saying where the configuration came from: files, environment section, variable names (never values), pools by kind. */
export function logConfigSummary(logger: Logger | undefined, config: ResolvedConfig): void {
	if (logger === undefined) return;
	logger.info(
		{
			files: config.summary.files,
			environment: config.environment,
			environmentSection: config.summary.environmentSection,
			variables: config.summary.variables,
			pools: Object.fromEntries(Object.entries(config.pools).map(([name, pool]) => [name, pool.kind])),
		},
		"configuration loaded",
	);
}
