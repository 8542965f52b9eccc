/**
 * Which commands may share a connection with other callers, which need one of their own, and
 * which change the connection's session (and so must never run on a shared connection, and
 * mark a leased one for cleanup before it is reused).
 */

/** A command argument as ioredis sends it. */
export type RedisArg = string | Buffer | number;

/** Where a command may run. */
export const Route = {
	/** Any connection, even one other callers are pipelining on. */
	shared: "shared",
	/** A connection of its own for the command's duration: it blocks the connection until data arrives. */
	dedicated: "dedicated",
	/** Changes the session (WATCH, SELECT, SUBSCRIBE, …): only on a leased connection. */
	session: "session",
} as const;
export type Route = (typeof Route)[keyof typeof Route];

/** Commands that hold the connection until data arrives or their timeout passes. */
const BLOCKING_COMMANDS = new Set(["blpop", "brpop", "brpoplpush", "blmove", "blmpop", "bzpopmin", "bzpopmax", "bzmpop", "wait", "waitaof"]);

/** Stream reads that block only with a BLOCK argument. */
const BLOCK_OPTION_COMMANDS = new Set(["xread", "xreadgroup"]);

/** WATCH and MULTI state, cleared by UNWATCH / DISCARD on release. */
export const TRANSACTION_COMMANDS = new Set(["watch", "unwatch", "multi", "exec", "discard"]);

const SUBSCRIBE_COMMANDS = new Set(["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"]);

/**
 * Session changes that only RESET undoes (database, identity, protocol, client modes). SYNC and
 * PSYNC turn the connection into a replication stream that not even RESET recovers: kept off the
 * shared path, and a leased connection that ran them fails its reset and is destroyed.
 */
const RESET_COMMANDS = new Set(["select", "hello", "auth", "reset", "readonly", "readwrite", "monitor", "quit", "sync", "psync"]);

/** CLIENT subcommands that change the session (the others, like LIST or KILL, only read or act on other clients). */
const RESET_CLIENT_SUBCOMMANDS = new Set(["setname", "tracking", "reply", "no-evict", "no-touch", "caching"]);

/** `name` lower-cased, without allocating when it already is (ioredis's own method names are). */
export function normalizeName(name: string): string {
	for (let i = 0; i < name.length; i++) {
		const c = name.charCodeAt(i);
		if (c >= 65 && c <= 90) return name.toLowerCase();
	}
	return name;
}

function subcommand(args: readonly unknown[]): string {
	const first = args[0];
	return typeof first === "string" ? first.toLowerCase() : Buffer.isBuffer(first) ? first.toString().toLowerCase() : "";
}

/** True when the command leaves session state that only RESET clears. `name` is lower case. */
export function needsReset(name: string, args: readonly unknown[]): boolean {
	if (RESET_COMMANDS.has(name)) return true;
	return name === "client" && RESET_CLIENT_SUBCOMMANDS.has(subcommand(args));
}

/** The route of every command whose name alone decides it: one lookup on the hot path. */
const ROUTES = new Map<string, Route>([
	...[...BLOCKING_COMMANDS].map((name): [string, Route] => [name, Route.dedicated]),
	...[...TRANSACTION_COMMANDS, ...SUBSCRIBE_COMMANDS, ...RESET_COMMANDS].map((name): [string, Route] => [name, Route.session]),
]);

/** Where a command may run; `name` is lower case. */
export function routeOf(name: string, args: readonly unknown[]): Route {
	const route = ROUTES.get(name);
	if (route !== undefined) return route;
	if (name === "client") return RESET_CLIENT_SUBCOMMANDS.has(subcommand(args)) ? Route.session : Route.shared;
	if (BLOCK_OPTION_COMMANDS.has(name)) {
		return args.some((a) => (typeof a === "string" || Buffer.isBuffer(a)) && a.toString().toLowerCase() === "block") ? Route.dedicated : Route.shared;
	}
	return Route.shared;
}
