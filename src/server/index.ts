/**
 * `lifeguard/server`: the service behind `lifeguard serve`, for embedding it in a program.
 * See docs/service.md.
 */
export { type AdminToken, bearerMatches, loadAdminToken } from "./admin-token.ts";
export { type ConfigFile, clientsOf, readConfigFile } from "./config-file.ts";
export { HttpError, ServiceErrorCode, toHttpError } from "./http-errors.ts";
export { ServedClients } from "./served-clients.ts";
export { Service, type ServiceOptions } from "./service.ts";
export { checkGateway, checkService, type GatewaySettings, SERVICE_DEFAULTS, type ServiceSettings } from "./service-config.ts";
export { SQL_SESSION_DEFAULTS, type SqlSessionSettings, SqlSessions, type StatementReply } from "./sql-sessions.ts";
export { type StartedService, type StartOptions, startService } from "./start.ts";
