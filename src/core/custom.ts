import { ConfigError } from "./errors.ts";
import type { PoolOptions } from "./options.ts";
import { Pool } from "./pool.ts";
import { withLease } from "./with-lease.ts";

/**
 * A connection object that manages its own life: a hand-written client class, a wrapper around
 * a driver. `createConnectionPool` pools any object with these methods.
 */
export interface CustomConnection {
	/**
	 * Opens the connection. Should stop and reject when `signal` aborts (at the pool's
	 * `createTimeoutMs`, or when the pool closes); a connection that ignores the signal is
	 * disconnected when it finally opens.
	 */
	connect(signal: AbortSignal): unknown;
	/** Closes the connection and frees what it holds. Errors are ignored; it is bounded by `destroyTimeoutMs`. */
	disconnect(): unknown;
	/**
	 * Optional: false (or a throw) when the connection no longer works. Checked before lending a
	 * connection idle for `validateAfterIdleMs`, by the keepalive (`healthCheckIntervalMs`), and
	 * after a failed `execute` to tell a broken connection from a failed operation.
	 */
	isHealthy?(signal?: AbortSignal): boolean | Promise<boolean>;
	/** Runs one operation on the connection (a query, a command, a request). */
	execute(...args: unknown[]): unknown;
}

/** The arguments of a connection's `execute`. */
export type ExecuteArgs<C extends CustomConnection> = Parameters<C["execute"]>;
/** What a connection's `execute` resolves with. */
export type ExecuteResult<C extends CustomConnection> = Awaited<ReturnType<C["execute"]>>;

/** Pool options for custom connections: `connect` makes one, the pool does the rest. */
export interface ConnectionPoolOptions<C extends CustomConnection> extends Omit<PoolOptions<C>, "create" | "destroy" | "validate"> {
	/** Makes a new connection object, not yet connected: `() => new MyConnection(address)`. */
	connect: () => C | Promise<C>;
}

/**
 * A pool of {@link CustomConnection}s: `connect(signal)` opens, `disconnect()` closes,
 * `isHealthy()` validates, and `execute(...args)` runs an operation on a borrowed connection.
 */
export class ConnectionPool<C extends CustomConnection> extends Pool<C> {
	constructor(options: ConnectionPoolOptions<C>) {
		super(toPoolOptions(options));
	}

	/**
	 * Borrows a connection, runs `connection.execute(...args)` and gives it back. When execute
	 * fails on a broken connection, the connection is destroyed instead of reused: broken means
	 * `classifyError(error)` says "connection", or, without `classifyError`, `isHealthy()` says
	 * false; a connection with neither is always destroyed after a failure. For a per-call
	 * deadline or signal, use `pool.use((conn) => conn.execute(...), { timeoutMs })`.
	 */
	execute(...args: ExecuteArgs<C>): Promise<ExecuteResult<C>> {
		return withLease(this, (connection) => connection.execute(...args) as ExecuteResult<C>, {
			isConnectionFault: (error, connection) => this.#isConnectionFault(connection, error),
		});
	}

	async #isConnectionFault(connection: C, error: unknown): Promise<boolean> {
		const classify = this.options.classifyError;
		if (classify !== undefined) {
			try {
				return classify(error) === "connection";
			} catch {
				return true;
			}
		}
		if (typeof connection.isHealthy !== "function") return true;
		const signal = AbortSignal.timeout(this.options.validateTimeoutMs);
		const timedOut = new Promise<boolean>((resolve) => signal.addEventListener("abort", () => resolve(false), { once: true }));
		try {
			return !(await Promise.race([connection.isHealthy(signal), timedOut]));
		} catch {
			return true;
		}
	}
}

/** Creates a {@link ConnectionPool}. See {@link ConnectionPoolOptions} and `PoolOptions` for the rest. */
export function createConnectionPool<C extends CustomConnection>(options: ConnectionPoolOptions<C>): ConnectionPool<C> {
	return new ConnectionPool<C>(options);
}

function toPoolOptions<C extends CustomConnection>(options: ConnectionPoolOptions<C>): PoolOptions<C> {
	const { connect, ...rest } = options;
	if (typeof connect !== "function") {
		throw new ConfigError("createConnectionPool", [
			{ path: "connect", message: "required: a function () => connection object, e.g. () => new MyConnection()" },
		]);
	}
	return {
		...rest,
		create: async (signal) => {
			const connection = await connect();
			try {
				await connection.connect(signal);
			} catch (error) {
				// A half-open connection may hold a socket: close it, without letting a hung disconnect delay the failure.
				Promise.resolve()
					.then(() => connection.disconnect())
					.catch(() => {});
				throw error;
			}
			return connection;
		},
		destroy: async (connection) => {
			await connection.disconnect();
		},
		validate: async (connection, signal) => (typeof connection.isHealthy === "function" ? connection.isHealthy(signal) : true),
	};
}
