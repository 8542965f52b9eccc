/**
 * Drivers (pg, mysql2, ioredis, undici, ws…) are optional peer dependencies: an adapter imports
 * its driver on first use, so a user of another adapter never needs it, and a user of this one
 * without it gets DRIVER_MISSING saying what to install. Every adapter loads its driver through
 * {@link optionalDriver}; the core treats DRIVER_MISSING as permanent (waiters fail at once).
 */
import { ErrorCode, LifeguardError } from "../../core/errors.ts";

/** The adapter's driver is missing: a package that is not installed, or a built-in module this Node.js lacks. */
export class DriverMissingError extends LifeguardError {
	/** The missing package (`pg`) or module (`node:sqlite`). */
	readonly driver: string;
	/**
	 * `hint` is the fix when it is not `npm install <driver>` (node:sqlite: a newer Node.js); without
	 * it the message says to install the package.
	 */
	constructor(driver: string, adapter: string, cause: unknown, hint?: string) {
		const what = hint === undefined ? `the "${driver}" package, which is not installed; run: npm install ${driver}` : `"${driver}", which is missing: ${hint}`;
		super(ErrorCode.DRIVER_MISSING, `the ${adapter} adapter needs ${what}`, { cause });
		this.driver = driver;
	}
}

function isModuleNotFound(error: unknown): boolean {
	const code = (error as { code?: unknown } | null)?.code;
	return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}

/** Imports an optional driver once, turning "module not found" into DRIVER_MISSING. */
export async function importDriver<M>(load: () => Promise<M>, driver: string, adapter: string): Promise<M> {
	try {
		return await load();
	} catch (error) {
		if (isModuleNotFound(error)) throw new DriverMissingError(driver, adapter, error);
		throw error;
	}
}

/**
 * A loader for one optional driver: the first call imports it (and `shape`s what the adapter uses;
 * without `shape`, the module as it is), later calls share that promise; a failed import is retried
 * by the next call (an `npm install` while the process runs). `missing` builds the adapter's own
 * DriverMissingError subclass, if any.
 */
export function optionalDriver<M, R = M>(
	load: () => Promise<M>,
	driver: string,
	adapter: string,
	// R is M when no shape is given (R's default); a caller naming another R passes its shape.
	shape: (module: M) => R | Promise<R> = (module) => module as unknown as R,
	missing: (cause: unknown) => DriverMissingError = (cause) => new DriverMissingError(driver, adapter, cause),
): () => Promise<R> {
	let loading: Promise<R> | undefined;
	return () => {
		loading ??= load().then(shape, (error: unknown) => {
			throw isModuleNotFound(error) ? missing(error) : error;
		});
		loading.catch(() => {
			loading = undefined;
		});
		return loading;
	};
}
