/** ioredis, loaded on first use through the kit's optional-driver loader (DRIVER_MISSING when it is not installed). */
import type { Cluster, Command, Redis } from "ioredis";
import { optionalDriver } from "../kit/optional-driver.ts";
import { RedisDriverMissingError } from "./errors.ts";

/** The part of ioredis the adapter uses. */
export interface IoredisModule {
	Redis: typeof Redis;
	Cluster: typeof Cluster;
	Command: typeof Command;
}

export const loadIoredis: () => Promise<IoredisModule> = optionalDriver(
	() => import("ioredis"),
	"ioredis",
	"redis",
	(driver) => ({ Redis: driver.Redis, Cluster: driver.Cluster, Command: driver.Command }),
	(cause) => new RedisDriverMissingError(cause),
);
