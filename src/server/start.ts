/**
 * Starting the service the way `lifeguard serve` does: settings from the config file (or the
 * defaults), flags over them, the embedded default when there is no file, the admin token, and
 * shutdown on SIGTERM/SIGINT.
 */
import { resolve } from "node:path";
import { attachLogger } from "../observe/logging/attach.ts";
import { loadAdminToken } from "./admin-token.ts";
import { clientsOf, readConfigFile } from "./config-file.ts";
import { embeddedDefault } from "./embedded.ts";
import { ServedClients } from "./served-clients.ts";
import { Service } from "./service.ts";
import { checkService, type ServiceSettings } from "./service-config.ts";

export interface StartOptions {
	/** A YAML config file; without one, the embedded default (SQLite in the data directory, a demo upstream). */
	configFile?: string;
	port?: number;
	host?: string;
	dataDir?: string;
	/** The environment (LIFEGUARD_ADMIN_TOKEN, LIFEGUARD_DATA_DIR). Default process.env. */
	env?: NodeJS.ProcessEnv;
	/** Demo traffic on the embedded default. Default true. */
	demoTraffic?: boolean;
}

export interface StartedService {
	service: Service;
	address: string;
	/** What to print: the address, the pools, and the token when this start generated it. */
	banner: string[];
}

export async function startService(options: StartOptions = {}): Promise<StartedService> {
	const env = options.env ?? process.env;
	const file = options.configFile === undefined ? undefined : readConfigFile(options.configFile, env);
	const base: ServiceSettings = file?.service ?? checkService({});
	const settings: ServiceSettings = {
		...base,
		...(options.port === undefined ? {} : { port: options.port }),
		...(options.host === undefined ? {} : { host: options.host }),
		dataDir: resolve(options.dataDir ?? env.LIFEGUARD_DATA_DIR ?? base.dataDir),
	};
	const token = loadAdminToken(settings.dataDir, env.LIFEGUARD_ADMIN_TOKEN);
	const embedded = file === undefined ? await embeddedDefault(settings.dataDir) : undefined;
	const clients = embedded?.clients ?? (file === undefined ? new ServedClients() : await clientsOf(file));
	// createPools attached lifeguard/logging to a config's pools; the embedded default gets the same (quiet unless LIFEGUARD_LOG_LEVEL).
	if (embedded !== undefined) attachLogger(clients.manager);
	const gateway = file?.gateway ?? (embedded === undefined ? undefined : { keys: [{ name: "demo", key: embedded.gatewayKey.value }], llm: {} });
	const service = new Service({
		settings,
		clients,
		token,
		...(gateway === undefined ? {} : { gateway }),
		...(embedded === undefined ? {} : { onClosed: () => embedded.stop() }),
	});
	let address: string;
	try {
		address = await service.listen();
	} catch (error) {
		await service.shutdown();
		throw error;
	}
	if (embedded !== undefined && options.demoTraffic !== false) await embedded.startTraffic(address);
	const banner = [
		`lifeguard serving on ${address}`,
		`  pools: ${
			clients
				.list()
				.map((c) => `${c.name} (${c.kind})`)
				.join(", ") || "none"
		}${embedded === undefined ? "" : " — the embedded default (no --config)"}`,
		`  data directory: ${settings.dataDir}`,
	];
	if (!service.ready) banner.push("  starting: some pools are below their min yet; /health/ready answers 503 (saying which) until they are not");
	if (clients.llms().length > 0) banner.push(`  LLM gateway: ${address}/v1 (${service.keys.size} client key${service.keys.size === 1 ? "" : "s"})`);
	if (embedded?.gatewayKey.created === true) {
		banner.push(`  demo gateway key (models demo-chat, demo-claude): ${embedded.gatewayKey.value}`);
		banner.push(`    stored in ${embedded.gatewayKey.path} (mode 0600)`);
	}
	if (token.created) {
		banner.push(`  dashboard: ${address}/#token=${token.value}`);
		banner.push(`  admin token: ${token.value}`);
		banner.push(`    generated now and stored in ${token.path} (mode 0600); it is not shown again`);
	} else {
		banner.push(`  dashboard: ${address}/`);
		banner.push(`  admin token: ${token.path === undefined ? "from LIFEGUARD_ADMIN_TOKEN" : `in ${token.path}`} (shown only when generated)`);
	}
	return { service, address, banner };
}
