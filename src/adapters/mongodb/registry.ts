/**
 * `getMongoClient(url)`: the seed's one-client-per-URL accessor. The driver's client is meant to
 * be shared (it pools per server), so a second call with the same URL returns the first client
 * rather than opening a second set of pools; the client is managed by the manager under its name.
 */
import { defaultManager, type PoolManager } from "../../manager/manager.ts";
import { createMongoClient, type ManagedMongoClient } from "./client.ts";
import type { MongoClientOptions } from "./options.ts";

export interface GetMongoClientOptions extends Omit<MongoClientOptions, "url"> {
	/** The manager to add the client to. Default the process's `defaultManager()`. */
	manager?: PoolManager;
}

interface Registered {
	readonly manager: PoolManager;
	readonly client: Promise<ManagedMongoClient>;
	/** Set once the client exists, to tell a closed one from a live one synchronously. */
	settled?: ManagedMongoClient;
}

const byUrl = new Map<string, Registered>();

/**
 * The managed client for `url`, created, added to the manager and started on first use. Options
 * apply on that first call only. Once the client is closed, the next call creates a new one
 * (replacing the closed one in the manager).
 */
export function getMongoClient(url: string, options: GetMongoClientOptions = {}): Promise<ManagedMongoClient> {
	const known = byUrl.get(url);
	if (known !== undefined && known.settled?.closed !== true) return known.client;
	const { manager = defaultManager(), ...rest } = options;
	const entry: Registered = { manager, client: open(url, rest, manager, known) };
	byUrl.set(url, entry);
	entry.client.then(
		(client) => (entry.settled = client),
		() => byUrl.get(url) === entry && byUrl.delete(url),
	);
	return entry.client;
}

async function open(
	url: string,
	options: MongoClientOptions | Omit<MongoClientOptions, "url">,
	manager: PoolManager,
	previous: Registered | undefined,
): Promise<ManagedMongoClient> {
	const client = await createMongoClient({ ...options, url });
	const stale = previous?.settled;
	if (stale !== undefined && previous?.manager.has(stale.name) && previous.manager.client(stale.name) === stale) await previous.manager.remove(stale.name);
	manager.add(client);
	try {
		await client.start();
	} catch (error) {
		await manager.remove(client.name);
		throw error;
	}
	return client;
}
