/** mysql2, loaded on first use through the kit's optional-driver loader (DRIVER_MISSING when it is not installed). */
import { optionalDriver } from "../kit/optional-driver.ts";

type Mysql2 = typeof import("mysql2");

export const loadMysql2: () => Promise<Mysql2> = optionalDriver(
	() => import("mysql2"),
	"mysql2",
	"mysql",
	(module) => ((module as { default?: Mysql2 }).default ?? module) as Mysql2,
);
