/**
 * Loads ioredis on first use: it is an optional peer dependency, so a user of another adapter
 * never needs it, and a user of this one without it gets DRIVER_MISSING saying what to install.
 */
import type { Redis } from "ioredis";
import { RedisDriverMissingError } from "./errors.ts";

/** The part of ioredis the adapter uses. */
export interface IoredisModule {
	Redis: typeof Redis;
}

let loading: Promise<IoredisModule> | undefined;

export function loadIoredis(): Promise<IoredisModule> {
	if (loading === undefined) {
		loading = import("ioredis").then(
			(driver) => ({ Redis: driver.Redis }),
			(error: unknown) => {
				loading = undefined;
				const code = (error as NodeJS.ErrnoException | undefined)?.code;
				if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") throw new RedisDriverMissingError(error);
				throw error;
			},
		);
	}
	return loading;
}
