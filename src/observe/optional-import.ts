import { ErrorCode, LifeguardError } from "../core/errors.ts";

/** An optional peer dependency a feature needs is not installed. */
export class OptionalDependencyMissingError extends LifeguardError {
	constructor(pkg: string, feature: string, cause: unknown) {
		super(ErrorCode.DRIVER_MISSING, `${feature} needs the "${pkg}" package, which is not installed; run: npm install ${pkg}`, { cause });
	}
}

/** Imports an optional peer dependency; DRIVER_MISSING (saying what to install) when it is absent. */
export async function importOptional<M>(load: () => Promise<M>, pkg: string, feature: string): Promise<M> {
	try {
		return await load();
	} catch (error) {
		const code = (error as { code?: unknown } | null)?.code;
		if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") throw new OptionalDependencyMissingError(pkg, feature, error);
		throw error;
	}
}
