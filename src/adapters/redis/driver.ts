/**
 * The life of one pooled ioredis connection: how it is opened (ioredis's own reconnects and
 * offline queue off, so a dead connection surfaces to the pool), how its death is reported,
 * how it is checked (PING), and how it goes back clean on release (UNWATCH, DISCARD, or
 * RESET and the session set up again).
 */
import type { Redis } from "ioredis";
import { callPasswordFunction, PermanentConnectError } from "../kit/permanent-error.ts";
import { needsReset, normalizeName, TRANSACTION_COMMANDS } from "./commands.ts";
import type { RedisSettings } from "./config.ts";
import { loadIoredis } from "./load.ts";
import { SentinelWatch } from "./sentinel-watch.ts";

/** Events that belong to a lease's pub/sub listeners: removed on release so they never outlive their borrower. */
const PUBSUB_EVENTS = ["message", "messageBuffer", "pmessage", "pmessageBuffer", "smessage", "smessageBuffer"];

const UNSUBSCRIBE_OF = { subscribe: "unsubscribe", psubscribe: "punsubscribe", ssubscribe: "sunsubscribe" } as const;

/** What the borrower did to the session that must be undone before the next borrower gets it. */
class SessionState {
	/** The password this connection authenticated with, to authenticate again after RESET. */
	readonly password: string | undefined;
	/** Commands are observed only between setup and release: the adapter's own setup is not the borrower's. */
	tracking = false;
	watching = false;
	inMulti = false;
	needsReset = false;
	lastError: Error | undefined;

	constructor(password: string | undefined) {
		this.password = password;
	}

	observe(name: string, args: readonly unknown[]): void {
		const command = normalizeName(name);
		if (TRANSACTION_COMMANDS.has(command)) {
			if (command === "watch") this.watching = true;
			else if (command === "multi") this.inMulti = true;
			else {
				// EXEC, DISCARD and UNWATCH all end the WATCH; EXEC and DISCARD also end MULTI.
				this.watching = false;
				if (command !== "unwatch") this.inMulti = false;
			}
		} else if (needsReset(command, args)) {
			this.needsReset = true;
		}
	}

	get dirty(): boolean {
		return this.watching || this.inMulti || this.needsReset;
	}

	clear(): void {
		this.watching = false;
		this.inMulti = false;
		this.needsReset = false;
	}
}

/** Opens, checks, resets and closes the connections of one client's pool. */
export class RedisConnector {
	readonly #settings: RedisSettings;
	readonly #connectTimeoutMs: number;
	readonly #onDead: (redis: Redis, error: Error) => void;
	readonly #sessions = new WeakMap<Redis, SessionState>();
	/** host:port (or the socket path) for messages; never credentials. */
	readonly #label: string;
	/** Every connection open now, so a Sentinel failover can close them all. */
	readonly #open = new Set<Redis>();
	#watch: SentinelWatch | undefined;
	#closed = false;

	/** `onDead` is called, possibly more than once, when a connection errors or closes: the client calls `pool.invalidate`. */
	constructor(settings: RedisSettings, connectTimeoutMs: number, onDead: (redis: Redis, error: Error) => void) {
		this.#settings = settings;
		this.#connectTimeoutMs = connectTimeoutMs;
		this.#onDead = onDead;
		this.#label = settings.sentinel === undefined ? `${settings.host}:${settings.port}` : `sentinel primary ${settings.sentinel.masterName}`;
	}

	/** The pool's `create`: connects, runs `afterCreate`, and gives up (socket closed) when `signal` aborts. */
	readonly create = async (signal: AbortSignal): Promise<Redis> => {
		const driver = await loadIoredis();
		const { Redis } = driver;
		const s = this.#settings;
		if (s.sentinel !== undefined && this.#watch === undefined && !this.#closed) {
			this.#watch = new SentinelWatch(driver, s.sentinel, () => {
				for (const redis of [...this.#open]) closeNow(redis);
			});
		}
		const password = typeof s.password === "function" ? await callPasswordFunction("redis", this.#label, s.password) : s.password;
		signal.throwIfAborted();
		const redis = new Redis({
			...s.driverOptions,
			host: s.host,
			port: s.port,
			db: s.db,
			username: s.username,
			password,
			tls: s.tls,
			keyPrefix: s.keyPrefix,
			connectionName: s.connectionName,
			lazyConnect: true,
			enableOfflineQueue: false,
			retryStrategy: () => null,
			maxRetriesPerRequest: 0,
			connectTimeout: this.#connectTimeoutMs,
			autoResubscribe: false,
			autoResendUnfulfilledCommands: false,
			reconnectOnError: null,
			...(s.sentinel === undefined
				? {}
				: {
						sentinels: s.sentinel.sentinels.map(({ host, port }) => ({ host, port })),
						name: s.sentinel.masterName,
						sentinelPassword: s.sentinel.sentinelPassword,
						// One round of asking the sentinels per connection: the pool, not ioredis, retries.
						sentinelRetryStrategy: () => null,
					}),
		});
		const session = new SessionState(password);
		this.#sessions.set(redis, session);
		// Listeners for the connection's whole life: an idle connection's error never crashes the process.
		redis.on("error", (error: Error) => {
			session.lastError = error;
			this.#onDead(redis, error);
		});
		redis.on("close", () => {
			this.#open.delete(redis);
			this.#onDead(redis, session.lastError ?? new Error("the connection to Redis closed"));
		});
		this.#open.add(redis);
		const abort = () => closeNow(redis);
		signal.addEventListener("abort", abort, { once: true });
		try {
			await redis.connect();
			// ioredis reports a failed SELECT during its handshake as an 'error' event and carries on in database 0.
			if (session.lastError !== undefined) throw session.lastError;
			if (s.afterCreate !== undefined) await s.afterCreate(redis, signal);
		} catch (error) {
			closeNow(redis);
			// A refused AUTH or SELECT arrives as an 'error' event; connect() then only says the connection closed.
			const permanent = permanentOrAsIs(session.lastError, this.#label, s.db);
			throw permanent instanceof PermanentConnectError ? permanent : permanentOrAsIs(error, this.#label, s.db);
		} finally {
			signal.removeEventListener("abort", abort);
		}
		observeCommands(redis, session);
		return redis;
	};

	readonly destroy = (redis: Redis): void => {
		this.#open.delete(redis);
		closeNow(redis);
	};

	/** Stops following failovers (the pool closes the connections themselves). */
	close(): void {
		this.#closed = true;
		this.#watch?.close();
	}

	/** The pool's `validate`: a live connection answers PING. */
	readonly validate = async (redis: Redis): Promise<boolean> => {
		if (redis.status !== "ready") return false;
		return (await redis.ping()) === "PONG";
	};

	/**
	 * The pool's `reset`, on every release: nothing to do for a clean connection (no round trip,
	 * and no promise); UNWATCH or DISCARD after a transaction; RESET and a new session setup after
	 * SUBSCRIBE, SELECT, CLIENT SETNAME and the like. A throw makes the pool destroy the connection.
	 */
	readonly reset = (redis: Redis): void | Promise<void> => {
		if (redis.status !== "ready") throw new Error(`connection is ${redis.status}, not ready`);
		for (const event of PUBSUB_EVENTS) if (redis.listenerCount(event) > 0) redis.removeAllListeners(event);
		const session = this.#sessions.get(redis);
		if (session === undefined) throw new Error("connection was not created by this client");
		if (!session.dirty && !redis.condition?.subscriber) return;
		return this.#clean(redis, session);
	};

	async #clean(redis: Redis, session: SessionState): Promise<void> {
		const subscriber = redis.condition?.subscriber;
		session.tracking = false;
		try {
			if (subscriber) await unsubscribeAll(redis, subscriber);
			if (session.needsReset || subscriber) await this.#resetSession(redis, session);
			else if (session.inMulti) await redis.discard();
			else await redis.unwatch();
			session.clear();
		} finally {
			session.tracking = true;
		}
	}

	/** RESET (Redis >= 6.2) clears everything, including authentication, protocol and database: set them up again. */
	async #resetSession(redis: Redis, session: SessionState): Promise<void> {
		const s = this.#settings;
		await redis.call("reset");
		const setup: Promise<unknown>[] = [];
		const auth: string[] = session.password === undefined ? [] : s.username === undefined ? [session.password] : [s.username, session.password];
		// Sent without awaiting each: ioredis writes them back to back, one round trip in all.
		if (redis.condition?.protocol === 3) {
			setup.push(redis.call("hello", 3, ...(auth.length === 0 ? [] : ["AUTH", s.username ?? "default", session.password as string])));
		} else if (auth.length > 0) {
			setup.push(redis.call("auth", ...auth));
		}
		setup.push(redis.select(s.db));
		if (s.connectionName !== undefined) setup.push(redis.client("SETNAME", s.connectionName));
		await Promise.all(setup);
		if (s.afterCreate !== undefined) await s.afterCreate(redis, AbortSignal.timeout(this.#connectTimeoutMs));
	}
}

/** Server answers to the handshake that no retry can change: the error the pool fails its waiters with at once. */
function permanentOrAsIs(error: unknown, label: string, db: number): unknown {
	const message = error instanceof Error ? error.message : "";
	// ioredis attaches the command to its reply errors, AUTH's password among the arguments: only the server's words are kept.
	const cause = new Error(message);
	if (/^ERR (DB index is out of range|invalid DB index)/.test(message)) {
		return new PermanentConnectError(
			"redis",
			label,
			`database ${db} does not exist on the server`,
			"use a db below the server's `databases` setting (16 by default)",
			cause,
		);
	}
	if (/^(WRONGPASS|NOAUTH|ERR (invalid password|AUTH|Client sent AUTH))/.test(message)) {
		return new PermanentConnectError(
			"redis",
			label,
			"the server refused the credentials",
			"check username and password (the ACL user must exist and be enabled)",
			cause,
		);
	}
	if (/^NOPERM/.test(message)) {
		return new PermanentConnectError(
			"redis",
			label,
			"the user may not run the connection's setup commands",
			"grant the ACL user SELECT/CLIENT or remove db/connectionName",
			cause,
		);
	}
	return error;
}

/**
 * Closes the socket at once. `disconnect()` alone ends it politely and keeps a 2 s timer (which
 * holds the process open) for a server that never closes its side, or for a socket already gone.
 */
export function closeNow(redis: Redis): void {
	const stream = redis.stream as Redis["stream"] | undefined;
	if (stream?.destroyed) return;
	redis.disconnect();
	stream?.destroy();
}

/** Leaves every channel, pattern and shard channel by name, so ioredis sees the connection leave subscriber mode. */
async function unsubscribeAll(redis: Redis, subscriber: NonNullable<Redis["condition"]>["subscriber"]): Promise<void> {
	if (!subscriber) return;
	const leaving: Promise<unknown>[] = [];
	for (const [kind, unsubscribe] of Object.entries(UNSUBSCRIBE_OF) as [keyof typeof UNSUBSCRIBE_OF, (typeof UNSUBSCRIBE_OF)[keyof typeof UNSUBSCRIBE_OF]][]) {
		const channels = subscriber.channels(kind);
		if (channels.length > 0) leaving.push(redis.call(unsubscribe, ...channels));
	}
	await Promise.all(leaving);
}

/** Watches what the borrower sends (pipelines and MULTI included, they pass through sendCommand too). */
function observeCommands(redis: Redis, session: SessionState): void {
	const send = redis.sendCommand.bind(redis);
	redis.sendCommand = ((command, stream) => {
		if (session.tracking) session.observe(command.name, command.args);
		return send(command, stream);
	}) as Redis["sendCommand"];
	session.tracking = true;
}
