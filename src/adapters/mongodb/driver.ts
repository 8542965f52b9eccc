/** The `mongodb` driver, imported on first use so that users of other adapters never need it. */
import type * as Mongo from "mongodb";
import { importDriver } from "../sql/errors.ts";

export type MongoModule = typeof Mongo;

let loading: Promise<MongoModule> | undefined;

/** The driver, loaded once; DRIVER_MISSING when it is not installed. */
export function loadMongo(): Promise<MongoModule> {
	loading ??= importDriver(() => import("mongodb"), "mongodb", "mongodb").catch((error: unknown) => {
		loading = undefined;
		throw error;
	});
	return loading;
}
