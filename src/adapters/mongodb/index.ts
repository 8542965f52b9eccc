/**
 * `lifeguard/mongodb`: the official driver's client, managed: CMAP events as lifeguard pool
 * statistics, health via `ping`, pool options under lifeguard's names. See docs/adapters/mongodb.md.
 */
export { createMongoClient, ManagedMongoClient, type MongoClientStats, type MongoHealth } from "./client.ts";
export { MongoErrorCode, MongoHealthError } from "./errors.ts";
export { MAPPED_DRIVER_OPTIONS, MONGO_DEFAULTS, type MongoClientOptions } from "./options.ts";
export { type GetMongoClientOptions, getMongoClient } from "./registry.ts";
