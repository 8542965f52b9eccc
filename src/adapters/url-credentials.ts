/** Moved to the adapter kit (kit/connection-url.ts); this path stays while adapters written against it are merged. */
export { type ConnectionUrl, parseConnectionUrl, redactUrlCredentials } from "./kit/connection-url.ts";
