/**
 * How a SQLite database is opened: the options a user writes, their defaults, and their check.
 */
import { durationProblem } from "../../core/duration.ts";
import { ConfigError, type ConfigProblem } from "../../core/errors.ts";
import type { HostKind } from "./host.ts";
import type { OpenSettings } from "./protocol.ts";

export const SQLITE_JOURNAL_MODES = ["wal", "delete", "truncate", "persist", "memory", "off"] as const;
export type SqliteJournalMode = (typeof SQLITE_JOURNAL_MODES)[number];

const HOST_KINDS: readonly HostKind[] = ["process", "thread"];

export interface SqliteConfig {
	/**
	 * A file path, or `:memory:` (the default): a database in memory, private to its one connection and gone
	 * when that connection closes. `""` is a private temporary file, likewise one connection only.
	 */
	filename?: string;
	/** Opens the database read-only; the file must exist. Default false. */
	readOnly?: boolean;
	/** How long a statement waits for another connection's lock before failing with SQLITE_BUSY (`PRAGMA busy_timeout`). Default 5 000 ms. */
	busyTimeoutMs?: number;
	/**
	 * `PRAGMA journal_mode` set when a file database is opened for writing. Default `wal`: readers never block the
	 * writer nor wait for it, which is what makes several connections worth having. Not applied to private or read-only databases.
	 */
	journalMode?: SqliteJournalMode;
	/** Enforces foreign keys (`PRAGMA foreign_keys`). Default true. */
	foreignKeys?: boolean;
	/** Reads INTEGER values as `bigint`. Default false: numbers, and an error (never a rounded value) past 2^53. */
	readBigInts?: boolean;
	/** More pragmas for every connection, e.g. `{ synchronous: "NORMAL", cache_size: -20000 }`. Names and plain values only. */
	pragmas?: Record<string, string | number>;
	/**
	 * Where each connection's database runs. `process` (default): a child process, killed on a statement timeout, which
	 * stops the statement at once. `thread`: a worker thread, lighter, but a timed-out statement runs on to its end.
	 */
	host?: HostKind;
}

export interface ResolvedSqliteConfig {
	host: HostKind;
	settings: OpenSettings;
	/** The database exists only inside its one connection (`:memory:` or `""`): a second connection would see another, empty database. */
	private: boolean;
}

export const SQLITE_DEFAULTS = {
	filename: ":memory:",
	busyTimeoutMs: 5_000,
	journalMode: "wal",
	host: "process",
} as const;

const KNOWN_KEYS = new Set(["filename", "readOnly", "busyTimeoutMs", "journalMode", "foreignKeys", "readBigInts", "pragmas", "host"]);
const PRAGMA_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PRAGMA_VALUE = /^[A-Za-z0-9_.+-]+$/;

/** True for the names SQLite opens as a database private to one connection. */
export function isPrivateDatabase(filename: string): boolean {
	return filename === ":memory:" || filename === "";
}

/** Checks every option and fills in defaults; throws one ConfigError listing every problem. `prefix` goes before each problem's path. */
export function resolveSqliteConfig(config: SqliteConfig = {}, prefix = ""): ResolvedSqliteConfig {
	const problems: ConfigProblem[] = [];
	const at = (key: string) => `${prefix}${key}`;
	const raw = config as Record<string, unknown>;
	for (const key of Object.keys(raw)) {
		if (!KNOWN_KEYS.has(key) && raw[key] !== undefined) problems.push({ path: at(key), message: "unknown option (check the spelling)" });
	}
	const filename = config.filename ?? SQLITE_DEFAULTS.filename;
	if (typeof filename !== "string") problems.push({ path: at("filename"), message: "must be a file path or ':memory:'" });
	const busyTimeoutMs = config.busyTimeoutMs ?? SQLITE_DEFAULTS.busyTimeoutMs;
	// SQLite keeps busy_timeout in a C int: 3 000 000 000 became 0, i.e. SQLITE_BUSY at once instead of a long wait.
	const busyProblem = durationProblem(busyTimeoutMs, { allowZero: true });
	if (busyProblem !== undefined || !Number.isInteger(busyTimeoutMs)) {
		problems.push({ path: at("busyTimeoutMs"), message: busyProblem ?? `must be a whole number of milliseconds, got ${String(busyTimeoutMs)}` });
	}
	const journalMode = config.journalMode ?? SQLITE_DEFAULTS.journalMode;
	if (!SQLITE_JOURNAL_MODES.includes(journalMode)) {
		problems.push({ path: at("journalMode"), message: `must be one of ${SQLITE_JOURNAL_MODES.join(", ")}; got ${String(journalMode)}` });
	}
	const host = config.host ?? SQLITE_DEFAULTS.host;
	if (!HOST_KINDS.includes(host)) problems.push({ path: at("host"), message: `must be 'process' or 'thread', got ${String(host)}` });
	for (const key of ["readOnly", "foreignKeys", "readBigInts"] as const) {
		if (config[key] !== undefined && typeof config[key] !== "boolean") problems.push({ path: at(key), message: "must be true or false" });
	}
	const pragmas: [string, string | number][] = [];
	for (const [name, value] of Object.entries(config.pragmas ?? {})) {
		const plain = typeof value === "number" ? Number.isFinite(value) : typeof value === "string" && PRAGMA_VALUE.test(value);
		if (!PRAGMA_NAME.test(name) || !plain) {
			problems.push({ path: at(`pragmas.${name}`), message: "a pragma is a name and a number or a plain word (letters, digits, _ . + -)" });
		} else {
			pragmas.push([name, value]);
		}
	}
	if (problems.length > 0) throw new ConfigError("SQLite configuration", problems);

	const readOnly = config.readOnly ?? false;
	const isPrivate = isPrivateDatabase(filename);
	return {
		host,
		private: isPrivate,
		settings: {
			filename,
			readOnly,
			busyTimeoutMs,
			journalMode: isPrivate || readOnly ? undefined : journalMode,
			foreignKeys: config.foreignKeys ?? true,
			readBigInts: config.readBigInts ?? false,
			pragmas,
		},
	};
}
