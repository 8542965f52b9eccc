/**
 * mysql2 is an optional peer dependency: it is imported on first use, so that users of other
 * adapters never need it, and a missing install says what to do (DRIVER_MISSING).
 */
import { importDriver } from "../sql/errors.ts";

type Mysql2 = typeof import("mysql2");

let loading: Promise<Mysql2> | undefined;

export function loadMysql2(): Promise<Mysql2> {
	loading ??= importDriver(() => import("mysql2"), "mysql2", "mysql").then(
		(module) => ((module as { default?: Mysql2 }).default ?? module) as Mysql2,
		(error: unknown) => {
			loading = undefined;
			throw error;
		},
	);
	return loading;
}
