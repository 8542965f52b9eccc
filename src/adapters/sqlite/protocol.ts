/**
 * The messages between a SQLite connection's handle on the main thread and the host (child
 * process or worker thread) that owns its `DatabaseSync`. Everything here must survive a
 * structured clone, because that is how both kinds of host carry messages.
 */
import type { FetchMode, Row } from "../sql/types.ts";
import type { RowidSource } from "./insert-id.ts";

/** What the host needs to open and set up its database. */
export interface OpenSettings {
	filename: string;
	readOnly: boolean;
	busyTimeoutMs: number;
	/** `PRAGMA journal_mode` to set after opening; undefined leaves the database's own. */
	journalMode: string | undefined;
	foreignKeys: boolean;
	readBigInts: boolean;
	/** Extra `PRAGMA name = value` statements, already checked to be a name and a plain value. */
	pragmas: [string, string | number][];
}

export type HostRequest =
	| { id: number; kind: "open"; settings: OpenSettings }
	/** `rowid`: for mode `result`, how the statement may generate a rowid (see insert-id.ts); absent when it cannot. */
	| { id: number; kind: "query"; sql: string; params: readonly unknown[]; mode: FetchMode; limit: number; rowid?: RowidSource }
	| { id: number; kind: "batch"; sql: string; paramSets: readonly (readonly unknown[])[] }
	| { id: number; kind: "reset" }
	| { id: number; kind: "close" };

/** An error thrown inside the host, reduced to what crosses the boundary. */
export interface HostError {
	name: string;
	message: string;
	/** Node's error code: `ERR_SQLITE_ERROR`, `ERR_INVALID_STATE`, `ERR_UNKNOWN_BUILTIN_MODULE`… */
	code?: string;
	/** SQLite's (extended) result code, for `ERR_SQLITE_ERROR`. */
	errcode?: number;
	errstr?: string;
}

export type HostReply =
	| { id: number; ok: true; rows: Row[]; affectedRows: number; insertId?: number | bigint; dirty: boolean }
	| { id: number; ok: false; error: HostError; dirty: boolean };
