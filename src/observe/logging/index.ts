/**
 * `lifeguard/logging`: structured logs of every pool's life, quiet by default; LIFEGUARD_LOG_LEVEL
 * turns on JSON lines to stderr. See docs/logging.md.
 */
export { type AttachLoggerOptions, attachLogger, type LoggerHandle } from "./attach.ts";
export { logConfigSummary } from "./config-summary.ts";
export { createJsonLogger, type JsonLoggerOptions, type Logger, LogLevel, loggerFromEnv } from "./logger.ts";
