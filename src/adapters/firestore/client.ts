/**
 * A managed Firestore client: a core pool of Firestore instances (each its own gRPC channel)
 * between `min` and `max`, operations spread over them by least work in flight, and the seed's
 * operations with a deadline and a typed error naming the collection and operation.
 */
import { performance } from "node:perf_hooks";
import type {
	DocumentData,
	DocumentSnapshot,
	Firestore,
	OrderByDirection,
	QuerySnapshot,
	Settings,
	Transaction,
	WhereFilterOp,
	WriteResult,
} from "@google-cloud/firestore";
import { ErrorCode, LifeguardError } from "../../core/errors.ts";
import { type CloseOptions, closeTimeout, createPool, type Pool } from "../../core/pool.ts";
import type { PoolStats } from "../../core/stats.ts";
import { ClientKind, type ClientPool, type ManagedClient } from "../../manager/client.ts";
import { raceAbort } from "../kit/abortable.ts";
import { ChannelSet, tracked, workSettled } from "./channels.ts";
import { FirestoreOperationError, FirestoreTimeoutError, grpcStatusOf, isChannelFault } from "./errors.ts";
import { type FirestoreDriver, loadFirestore } from "./load.ts";
import { FirestoreOperation, type FirestoreOperationStats, OperationStats } from "./operation-stats.ts";
import { type FirestoreClientOptions, type FirestoreHealthCheck, type FirestoreSettings, resolveFirestoreOptions } from "./options.ts";

/** Per-call options of every operation. */
export interface OperationOptions {
	/** Deadline, waiting for a channel included. Default the client's `operationTimeoutMs`. */
	timeoutMs?: number;
	signal?: AbortSignal;
}

/** `where(field, op, value)` clauses, `orderBy` fields (with a direction) and a `limit`. */
export interface DocumentQuery {
	where?: readonly (readonly [field: string, op: WhereFilterOp, value: unknown])[];
	orderBy?: string | readonly (string | readonly [field: string, direction: OrderByDirection])[];
	limit?: number;
}

/** One write of a batch. */
export type BatchWrite =
	| { op: "set"; collection: string; id: string; data: DocumentData; merge?: boolean }
	| { op: "create"; collection: string; id: string; data: DocumentData }
	| { op: "update"; collection: string; id: string; data: DocumentData }
	| { op: "delete"; collection: string; id: string };

export interface TransactionOptions extends OperationOptions {
	/** Attempts the driver makes when the transaction is aborted by contention (its default is 5). */
	maxAttempts?: number;
	/** A read-only transaction (no locks, no retries needed). */
	readOnly?: boolean;
	/** The collection named in errors. Default "(transaction)". */
	collection?: string;
}

export interface FirestoreHealth {
	ok: true;
	latencyMs: number;
}

export interface FirestoreClientStats {
	/** The channel pool (core statistics: channels open, idle, being created…). */
	channels: PoolStats;
	/** Channels carrying operations right now. */
	held: number;
	operations: FirestoreOperationStats;
}

/**
 * How long a retired channel waits for driver calls abandoned at their deadline before it is
 * terminated anyway: past the driver's own limits (a read retries UNAVAILABLE for up to its
 * 600 s total timeout), so in practice they always settle first. Terminating under them makes
 * the driver's next retry an unhandled rejection, which ends a process by default.
 */
const ABANDONED_WORK_CAP_MS = 660_000;

async function terminateWhenSettled(db: Firestore): Promise<void> {
	await workSettled(db, ABANDONED_WORK_CAP_MS);
	await db.terminate().catch(() => {});
}

/** Gives each channel its own TCP connection: gRPC shares subchannels between channels with the same target otherwise. */
const OWN_CONNECTION = { "grpc.use_local_subchannel_pool": 1 } as const;

export class FirestoreClient implements ManagedClient {
	readonly name: string;
	readonly kind = ClientKind.firestore;
	/** The core pool of channels: events, statistics, `clear()`. */
	readonly pool: Pool<Firestore>;
	readonly #settings: FirestoreSettings;
	readonly #channels: ChannelSet;
	readonly #operations = new OperationStats();

	/** Use {@link createFirestoreClient} (it loads the driver). */
	constructor(driver: FirestoreDriver, settings: FirestoreSettings) {
		this.#settings = settings;
		const driverSettings: Settings = { ...settings.driverSettings, ...OWN_CONNECTION };
		const health = settings.healthCheck;
		this.pool = createPool<Firestore>({
			...settings.pool,
			create: async (signal) => {
				const db = new driver.Firestore(driverSettings);
				try {
					// gRPC connects lazily: a first read makes creation mean "this channel reaches the backend".
					await healthReadWithin(db, health, signal);
					return db;
				} catch (error) {
					void terminateWhenSettled(db);
					throw error;
				}
			},
			destroy: terminateWhenSettled,
			validate: async (db, signal) => {
				await healthReadWithin(db, health, signal);
				return true;
			},
			classifyError: (error) => (isChannelFault(error) ? "connection" : "caller"),
		});
		this.name = this.pool.name;
		this.#channels = new ChannelSet(this.pool, settings.maxInFlightPerChannel);
	}

	/** The document `collection/id` (`exists` is false when there is none). */
	getDocument(collection: string, id: string, options?: OperationOptions): Promise<DocumentSnapshot> {
		return this.#run(FirestoreOperation.get, collection, (db) => db.collection(collection).doc(id).get(), options);
	}

	/** The documents of `collection` matching `query`'s filters, in its order, at most `limit`. */
	queryDocuments(collection: string, query: DocumentQuery = {}, options?: OperationOptions): Promise<QuerySnapshot> {
		return this.#run(
			FirestoreOperation.query,
			collection,
			(db) => {
				let q: FirebaseFirestore.Query = db.collection(collection);
				for (const [field, op, value] of query.where ?? []) q = q.where(field, op, value);
				const order = typeof query.orderBy === "string" ? [query.orderBy] : (query.orderBy ?? []);
				for (const o of order) q = typeof o === "string" ? q.orderBy(o) : q.orderBy(o[0], o[1]);
				if (query.limit !== undefined) q = q.limit(query.limit);
				return q.get();
			},
			options,
		);
	}

	/** Writes `collection/id` (replacing it, or merging with `merge: true`). */
	setDocument(collection: string, id: string, data: DocumentData, options: OperationOptions & { merge?: boolean } = {}): Promise<WriteResult> {
		return this.#run(
			FirestoreOperation.write,
			collection,
			(db) =>
				db
					.collection(collection)
					.doc(id)
					.set(data, { merge: options.merge === true }),
			options,
		);
	}

	/** Deletes `collection/id` (a missing document is not an error). */
	deleteDocument(collection: string, id: string, options?: OperationOptions): Promise<WriteResult> {
		return this.#run(FirestoreOperation.write, collection, (db) => db.collection(collection).doc(id).delete(), options);
	}

	/** Commits `writes` atomically in one batch (all or none). Errors name the collections written. */
	batchWrite(writes: readonly BatchWrite[], options?: OperationOptions): Promise<WriteResult[]> {
		const collections = [...new Set(writes.map((w) => w.collection))].join(",");
		return this.#run(
			FirestoreOperation.batch,
			collections,
			(db) => {
				const batch = db.batch();
				for (const w of writes) {
					const ref = db.collection(w.collection).doc(w.id);
					if (w.op === "set") batch.set(ref, w.data, { merge: w.merge === true });
					else if (w.op === "create") batch.create(ref, w.data);
					else if (w.op === "update") batch.update(ref, w.data);
					else batch.delete(ref);
				}
				return batch.commit();
			},
			options,
		);
	}

	/**
	 * Runs `fn` in a transaction with the driver's semantics: on contention (ABORTED) the driver
	 * retries `fn` with backoff, up to `maxAttempts`. The deadline covers every attempt.
	 */
	runTransaction<R>(fn: (transaction: Transaction, db: Firestore) => Promise<R>, options: TransactionOptions = {}): Promise<R> {
		const txOptions = options.readOnly === true ? { readOnly: true as const } : { maxAttempts: options.maxAttempts };
		return this.#run(FirestoreOperation.transaction, options.collection ?? "(transaction)", (db) => db.runTransaction((tx) => fn(tx, db), txOptions), options);
	}

	/** Runs driver code on a channel (what the methods above do not cover), with the same deadline and statistics. */
	withFirestore<R>(fn: (db: Firestore) => Promise<R>, options: OperationOptions & { collection?: string } = {}): Promise<R> {
		return this.#run(FirestoreOperation.custom, options.collection ?? "(custom)", fn, options);
	}

	/** One health check now (the configured read) within `healthTimeoutMs`. */
	async health(options: OperationOptions = {}): Promise<FirestoreHealth> {
		const started = performance.now();
		const target = healthTarget(this.#settings.healthCheck);
		await this.#run(FirestoreOperation.health, target, (db) => healthRead(db, this.#settings.healthCheck), {
			timeoutMs: this.#settings.healthTimeoutMs,
			...options,
		});
		return { ok: true, latencyMs: performance.now() - started };
	}

	/** The channel pool, labelled `channels`. */
	pools(): ClientPool[] {
		return [{ label: "channels", pool: this.pool }];
	}

	stats(): FirestoreClientStats {
		return { channels: this.pool.stats(), held: this.#channels.held, operations: this.#operations.snapshot() };
	}

	details(): Record<string, unknown> {
		const s = this.#settings;
		return {
			projectId: s.driverSettings.projectId,
			databaseId: s.driverSettings.databaseId,
			healthCheck: healthTarget(s.healthCheck),
			operationTimeoutMs: s.operationTimeoutMs,
			maxInFlightPerChannel: s.maxInFlightPerChannel,
			operations: this.#operations.snapshot(),
		};
	}

	/** Opens `min` channels (each proven by a health read); resolves when they are ready. */
	start(): Promise<void> {
		return this.pool.start();
	}

	/** Takes no new operations, lets those in flight finish until `timeoutMs`, then closes every channel. */
	async close(options?: CloseOptions): Promise<void> {
		closeTimeout(`firestore client "${this.name}": close`, options);
		this.#channels.close();
		await this.pool.close(options);
	}

	[Symbol.asyncDispose](): Promise<void> {
		return this.close();
	}

	async #run<R>(kind: FirestoreOperation, collection: string, fn: (db: Firestore) => Promise<R>, options: OperationOptions = {}): Promise<R> {
		const timeoutMs = options.timeoutMs ?? this.#settings.operationTimeoutMs;
		const started = performance.now();
		this.#operations.inFlight++;
		try {
			const result = await this.#channels.run(fn, {
				signal: options.signal,
				timeoutMs,
				onTimeout: () => new FirestoreTimeoutError(this.name, kind, collection, timeoutMs),
			});
			this.#operations.record(kind, performance.now() - started, undefined);
			return result;
		} catch (error) {
			const typed = options.signal?.aborted === true && error === options.signal.reason ? error : this.#typed(error, kind, collection, timeoutMs);
			this.#operations.record(kind, performance.now() - started, statusOf(typed));
			throw typed;
		} finally {
			this.#operations.inFlight--;
		}
	}

	#typed(error: unknown, kind: FirestoreOperation, collection: string, timeoutMs: number): unknown {
		if (error instanceof FirestoreTimeoutError || error instanceof FirestoreOperationError) return error;
		if (error instanceof LifeguardError) {
			// No channel within the deadline: the backend is down or every channel is busy.
			if (error.code === ErrorCode.POOL_TIMEOUT) return new FirestoreTimeoutError(this.name, kind, collection, timeoutMs, error);
			return error;
		}
		return new FirestoreOperationError(this.name, kind, collection, error);
	}
}

function statusOf(error: unknown): string {
	if (error instanceof FirestoreTimeoutError || error instanceof FirestoreOperationError) return grpcStatusOf(error);
	if (error instanceof LifeguardError) return error.code;
	return grpcStatusOf(error);
}

function healthTarget(check: FirestoreHealthCheck): string {
	return check === "listCollections" ? "(root collections)" : check.document.split("/").slice(0, -1).join("/");
}

async function healthRead(db: Firestore, check: FirestoreHealthCheck): Promise<void> {
	if (check === "listCollections") await db.listCollections();
	else await db.doc(check.document).get();
}

/** The health read, answered with the signal's reason as soon as it aborts (the core aborts creates and validations at their deadline). */
function healthReadWithin(db: Firestore, check: FirestoreHealthCheck, signal: AbortSignal): Promise<void> {
	return raceAbort(tracked(db, healthRead(db, check)), signal, () => signal.reason);
}

/** A Firestore client over a pool of channels (the driver is loaded here: DRIVER_MISSING when it is not installed). */
export async function createFirestoreClient(options: FirestoreClientOptions = {}): Promise<FirestoreClient> {
	const settings = resolveFirestoreOptions(options);
	const driver = await loadFirestore();
	return new FirestoreClient(driver, settings);
}
