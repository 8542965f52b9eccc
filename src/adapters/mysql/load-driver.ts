/**
 * mysql2 is an optional peer dependency: it is imported on first use, so that users of other
 * adapters never need it, and a missing install says what to do.
 */
import { ErrorCode, LifeguardError } from "../../core/errors.ts";

type Mysql2 = typeof import("mysql2");

let loading: Promise<Mysql2> | undefined;

export function loadMysql2(): Promise<Mysql2> {
	loading ??= import("mysql2").then(
		(module) => ((module as { default?: Mysql2 }).default ?? module) as Mysql2,
		(error: unknown) => {
			loading = undefined;
			throw new LifeguardError(ErrorCode.DRIVER_MISSING, "lifeguard/mysql needs the mysql2 package (>= 3.9): npm install mysql2", { cause: error });
		},
	);
	return loading;
}
