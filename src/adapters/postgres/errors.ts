/**
 * The PostgreSQL adapter's own errors: connect errors no retry can fix (CONFIG_INVALID through the
 * kit's PermanentConnectError) and the statements it refuses before sending. Statement errors are
 * the SQL adapters' shared classes (../sql/errors.ts); which errors kill a connection is faults.ts.
 */
import { messageOf } from "../../core/errors.ts";
import { PermanentConnectError } from "../kit/permanent-error.ts";
import { QueryFailedError } from "../sql/errors.ts";
import type { ResolvedServer } from "./config.ts";

/** host:port/database for messages (never credentials). */
export function serverLabel(server: ResolvedServer): string {
	return `${server.host ?? "localhost"}:${server.port ?? 5432}/${server.database ?? server.user ?? ""}`;
}

const NO_TLS = "The server does not support SSL connections";

export function isNoTls(error: unknown): boolean {
	return error instanceof Error && error.message === NO_TLS;
}

/** Connect errors no retry can fix (the server refused who we are, or has no such database, or no TLS where it is required), as CONFIG_INVALID saying what to fix. */
export function permanentOrAsIs(error: unknown, label: string): unknown {
	const permanent = whyPermanent(error);
	return permanent === undefined ? error : new PermanentConnectError("postgres", label, permanent.problem, permanent.fix, error);
}

/** What is wrong and what to fix, when `error` is a connect error that every retry would get again. */
function whyPermanent(error: unknown): { problem: string; fix: string } | undefined {
	if (isNoTls(error)) {
		return {
			problem: "the server has no TLS, and the connection requires it (sslmode require/verify-*, or ssl)",
			fix: "enable ssl on the server, or use sslmode=prefer or disable",
		};
	}
	switch ((error as { code?: unknown } | null)?.code) {
		case "28P01":
			return { problem: "password authentication failed", fix: "check the user's password" };
		case "28000":
			return { problem: `the server refused the login (${messageOf(error)})`, fix: "check that the role exists and pg_hba.conf allows it from here" };
		case "3D000":
			return { problem: messageOf(error), fix: "create the database or fix its name" };
		// An unknown or invalid setting in sessionParameters: the startup packet is refused every time.
		case "42704":
		case "22023":
			return { problem: `a session parameter was refused (${messageOf(error)})`, fix: "fix sessionParameters or the URL's options" };
		default:
			return undefined;
	}
}

/** The protocol counts a statement's parameters in 16 bits. */
export const MAX_PARAMETERS = 65_535;

export function tooManyParameters(count: number): QueryFailedError {
	const cause = new Error(
		`PostgreSQL takes at most ${MAX_PARAMETERS} parameters in one statement, got ${count}; nothing was sent. Split the statement, or pass one array parameter (WHERE id = ANY($1))`,
	);
	return new QueryFailedError(cause, "54000");
}
