/**
 * One config file, read by two owners: lifeguard/config (`pools`, `defaults`, `monitoring` and the
 * environment sections, with its precedence of sources) and the service (`service`, `gateway`).
 * lifeguard/config refuses keys it does not know, so it reads the file with the service's sections
 * blanked out in place (same lines and columns, so its sources still point into the file).
 */
import { readFileSync } from "node:fs";
import { isMap, isScalar, parseDocument } from "yaml";
import { createLlmClient, type LlmClient } from "../adapters/llm/client.ts";
import type { LlmClientOptions } from "../adapters/llm/options.ts";
import { createPools } from "../config/builders.ts";
import { loadConfig, type ResolvedConfig } from "../config/load.ts";
import { parseYaml } from "../config/yaml-source.ts";
import { ConfigError, type ConfigProblem } from "../core/errors.ts";
import { ServedClients } from "./served-clients.ts";
import { checkGateway, checkService, type GatewaySettings, type ServiceSettings } from "./service-config.ts";

/** The top-level sections that belong to the service, not to lifeguard/config. */
export const SERVICE_SECTIONS = ["service", "gateway"] as const;

export interface ConfigFile {
	source: string;
	service: ServiceSettings;
	gateway: GatewaySettings;
	pools: ResolvedConfig;
}

/** Reads and checks every section of `path`; throws one ConfigError listing every problem of every section. */
export function readConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): ConfigFile {
	let text: string;
	try {
		text = readFileSync(path, "utf8");
	} catch (error) {
		throw new ConfigError("lifeguard", [{ path: "(file)", message: `cannot read it: ${(error as NodeJS.ErrnoException).code ?? "error"}`, source: path }]);
	}
	const problems: ConfigProblem[] = [];
	const collect = <T>(read: () => T): T | undefined => {
		try {
			return read();
		} catch (error) {
			if (!(error instanceof ConfigError)) throw error;
			problems.push(...error.problems);
			return undefined;
		}
	};
	const document = parseDocument(text);
	const sections: Record<string, unknown> = {};
	let blanked = text;
	if (isMap(document.contents)) {
		for (const pair of document.contents.items) {
			const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
			if (key === undefined || !(SERVICE_SECTIONS as readonly string[]).includes(key)) continue;
			sections[key] = (pair.value as { toJSON?: () => unknown } | null)?.toJSON?.() ?? pair.value ?? undefined;
			const start = (pair.key as { range?: number[] }).range?.[0];
			const end = (pair.value as { range?: number[] } | null)?.range?.[2] ?? (pair.key as { range?: number[] }).range?.[2];
			if (start !== undefined && end !== undefined) blanked = blanked.slice(0, start) + blanked.slice(start, end).replace(/[^\n]/g, " ") + blanked.slice(end);
		}
	}
	// `${VAR}` in the service's sections as in the pool sections (gateway keys come from a secret store, not the file).
	// lifeguard/config reports the pool sections' own variable and syntax problems: only the service's are kept here.
	const yamlProblems: ConfigProblem[] = [];
	const expanded = parseYaml(text, path, env, yamlProblems);
	const ours = yamlProblems.filter((p) => SERVICE_SECTIONS.some((section) => p.path === section || p.path.startsWith(`${section}.`)));
	problems.push(...ours);
	if (expanded !== undefined && expanded.value !== null && typeof expanded.value === "object") {
		for (const key of SERVICE_SECTIONS) if (key in expanded.value) sections[key] = (expanded.value as Record<string, unknown>)[key] ?? undefined;
	}
	const origin = { source: path, positions: expanded?.positions, substituted: expanded?.substituted, reported: new Set(ours.map((p) => p.path)) };
	const service = collect(() => checkService(sections.service ?? {}, origin));
	const gateway = collect(() => checkGateway(sections.gateway, origin));
	const pools = collect(() => renamed(loadConfig({ yaml: blanked, env }), path));
	if (pools === undefined && problems.length > 0) {
		// loadConfig's own problems name the text it was given "inline": they are this file's.
		for (const p of problems) if (p.source?.startsWith("inline")) p.source = p.source.replace(/^inline/, path);
	}
	if (service === undefined || gateway === undefined || pools === undefined || ours.length > 0) throw new ConfigError("lifeguard", problems);
	return { source: path, service, gateway, pools };
}

/** The sources of a config loaded from text, pointed back at its file. */
function renamed(config: ResolvedConfig, path: string): ResolvedConfig {
	const sources: Record<string, string> = {};
	for (const [key, source] of Object.entries(config.sources)) sources[key] = source.startsWith("inline") ? source.replace(/^inline/, path) : source;
	return { ...config, sources, summary: { ...config.summary, files: [path] } };
}

/** The clients of a checked file: the pools through lifeguard/config's builders, the gateway's LLM clients through lifeguard/llm. */
export async function clientsOf(file: ConfigFile): Promise<ServedClients> {
	const problems: ConfigProblem[] = [];
	const llms: LlmClient[] = [];
	for (const [name, options] of Object.entries(file.gateway.llm)) {
		try {
			llms.push(createLlmClient({ ...(options as unknown as LlmClientOptions), name }));
		} catch (error) {
			if (!(error instanceof ConfigError)) throw error;
			for (const p of error.problems) problems.push({ ...p, path: `gateway.llm.${name}.${p.path}`, source: file.source });
		}
	}
	if (problems.length > 0) throw new ConfigError("lifeguard", problems);
	const manager = await createPools(file.pools);
	const served = new ServedClients(manager, { adopt: true });
	for (const llm of llms) served.addLlm(llm);
	return served;
}
