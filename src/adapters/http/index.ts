/**
 * lifeguard/http: an undici Dispatcher on lifeguard's keyed pool (one pool of connections per
 * origin under one global budget), with statistics per origin and, as options, the retries,
 * circuit breakers, cooldowns and rate limits of lifeguard/resilience.
 */
export { createHttpClient, HttpClient, type HttpRequestOptions } from "./client.ts";
export { type HttpProtocol, SocketCloseReason } from "./connection.ts";
export { ConnectionRetiredError, type HttpClientState, HttpDriverMissingError, HttpQueueFullError } from "./errors.ts";
export type { HttpCallOptions } from "./exchange.ts";
export { HTTP_DEFAULTS, type HttpClientOptions, type HttpTlsOptions, type PrewarmTarget } from "./options.ts";
export type { HttpClientStats, OriginStats, TimeoutKind } from "./origin-stats.ts";
