/**
 * `lifeguard/mysql`: MySQL and MariaDB on mysql2.
 */
export type { MysqlConfig, MysqlDriverOptions, MysqlSessionSettings, MysqlTimeoutMethod, ResolvedMysqlConfig } from "./config.ts";
export { resolveMysqlConfig } from "./config.ts";
export { MysqlConnection, type ServerFlavor } from "./connection.ts";
export { mysqlDriver } from "./driver.ts";
export { isMysqlConnectionFault, MysqlErrno, MysqlError } from "./errors.ts";
