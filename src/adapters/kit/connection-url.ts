/**
 * Connection URLs carry passwords (`postgres://app:secret@db/shop`, `mysql://…`, `redis://…`).
 * Every adapter reads them here, so that no error ever quotes one: a URL that cannot be read
 * safely is refused with a message that contains no part of it.
 *
 * The trap is a password with an unencoded `/`, `?` or `#`: the URL parser ends the host part
 * there, so `app:2024/Summer-pass@db/shop` reads as host `app`, port `2024`, database
 * `Summer-pass@db/shop`, and the password ends up in host names, labels and error messages.
 */

/** What a connection URL holds, or why it cannot be read; `problem` never contains any part of the URL. */
export type ConnectionUrl =
	| { url: URL; username: string | undefined; password: string | undefined; problem?: undefined }
	| { url?: undefined; problem: string };

const PERCENT_ENCODE = "percent-encode the user name and password (encodeURIComponent)";
const NOT_SHOWN = "the URL is not shown: it may contain a password";

/**
 * Parses `text` as a URL with credentials. Refuses it when an `@` follows the end of the host part
 * (a `/`, `?` or `#`): either the password holds one of those unencoded, or the path or query
 * holds an unencoded `@`; which of the two cannot be told, so nothing is guessed.
 */
export function parseConnectionUrl(text: string): ConnectionUrl {
	const start = text.indexOf("//");
	if (start >= 0) {
		const rest = text.slice(start + 2);
		const hostEnd = rest.search(/[/?#]/);
		if (hostEnd >= 0 && rest.indexOf("@", hostEnd) >= 0) {
			return {
				problem: `cannot be read: it has an "@" after a "/", "?" or "#"; if the password contains one of "/ ? # @", ${PERCENT_ENCODE} (an "@" in the database name or a parameter must be encoded as %40 too); ${NOT_SHOWN}`,
			};
		}
	}
	let url: URL;
	try {
		url = new URL(text);
	} catch {
		return { problem: `is not a valid URL; if the password contains one of ": / ? # @ %", ${PERCENT_ENCODE}; ${NOT_SHOWN}` };
	}
	try {
		return {
			url,
			username: url.username === "" ? undefined : decodeURIComponent(url.username),
			password: url.password === "" ? undefined : decodeURIComponent(url.password),
		};
	} catch {
		return { problem: `has a user name or password with a malformed %-escape; ${PERCENT_ENCODE}; ${NOT_SHOWN}` };
	}
}

/**
 * `text` with its credentials replaced by `***`, safe for errors and logs: everything between
 * `scheme://` and the last `@` goes, so an unencoded `/`, `?`, `#` or `@` in the password cannot
 * leave part of it behind. (When an `@` sits in the path or query instead, more is hidden than
 * needed, never less.)
 */
export function redactUrlCredentials(text: string): string {
	const value = String(text);
	const at = value.lastIndexOf("@");
	if (at < 0) return value;
	const scheme = value.indexOf("://");
	const from = scheme >= 0 && scheme < at ? scheme + 3 : 0;
	return `${value.slice(0, from)}***${value.slice(at)}`;
}

/** Where a connection URL points: host (IPv6 brackets removed, %-escapes decoded), port, and the path as a database name; absent parts are undefined. */
export interface UrlEndpoint {
	host: string | undefined;
	port: number | undefined;
	/** The path without its leading `/`, decoded (`/shop` → `shop`; Redis reads it as a database index). */
	database: string | undefined;
}

/** The host, port and database of a parsed connection URL: the one reading every adapter shares. */
export function urlEndpoint(url: URL): UrlEndpoint {
	const bare = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
	const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
	return {
		host: bare === "" ? undefined : decodeURIComponent(bare),
		port: url.port === "" ? undefined : Number(url.port),
		database: database === "" ? undefined : database,
	};
}
