/**
 * `lifeguard/firestore`: a pool of Firestore channels with health, recovery and statistics, and
 * the seed's operations with deadlines and typed errors. See docs/adapters/firestore.md.
 */
export {
	type BatchWrite,
	createFirestoreClient,
	type DocumentQuery,
	FirestoreClient,
	type FirestoreClientStats,
	type FirestoreHealth,
	type OperationOptions,
	type TransactionOptions,
} from "./client.ts";
export { FirestoreErrorCode, FirestoreOperationError, FirestoreTimeoutError, GRPC_STATUS, grpcStatusOf, isChannelFault } from "./errors.ts";
export { FirestoreOperation, type FirestoreOperationStats, type OperationKindStats } from "./operation-stats.ts";
export { FIRESTORE_DEFAULTS, type FirestoreClientOptions, type FirestoreHealthCheck, type FirestorePoolOptions } from "./options.ts";
