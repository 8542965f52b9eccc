/**
 * The service's admin token: generated on first start, stored in the data directory with mode
 * 0600, and shown once (like a notebook server's login URL). Later starts read it back and do not
 * print it again. Compared in constant time.
 */
import { hash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const ADMIN_TOKEN_FILE = "admin-token";

export interface AdminToken {
	readonly value: string;
	/** True when this start generated it: the only time it is shown. */
	readonly created: boolean;
	/** Where it is stored; undefined when it came from the environment. */
	readonly path: string | undefined;
}

/**
 * The token of the data directory `dataDir`, created on first use. `fromEnv` (LIFEGUARD_ADMIN_TOKEN)
 * takes precedence, for deployments whose secret store hands it in; it is never written to disk.
 */
export function loadAdminToken(dataDir: string, fromEnv?: string): AdminToken {
	if (fromEnv !== undefined && fromEnv !== "") {
		if (fromEnv.length < 16) throw new Error("LIFEGUARD_ADMIN_TOKEN must be at least 16 characters long");
		return { value: fromEnv, created: false, path: undefined };
	}
	return loadStoredSecret(dataDir, ADMIN_TOKEN_FILE);
}

/** A random secret stored in `dataDir/file` with mode 0600, created on first use (`created` says so: the one time to show it). */
export function loadStoredSecret(dataDir: string, file: string): AdminToken {
	mkdirSync(dataDir, { recursive: true, mode: 0o700 });
	const path = join(dataDir, file);
	try {
		// "wx": two services starting at once on one directory cannot both create (and show) one.
		// Prefixed: a base64url secret starts with "-" one time in 64, and `--token -…` is then an ambiguous flag to the CLI (exit 2).
		const value = `lg_${randomBytes(24).toString("base64url")}`;
		writeFileSync(path, `${value}\n`, { mode: 0o600, flag: "wx" });
		return { value, created: true, path };
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
	}
	// A file someone made readable by others is tightened rather than trusted as it is.
	if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
	const value = readFileSync(path, "utf8").trim();
	if (value.length < 16) throw new Error(`${path} is empty or too short; delete it to generate a new one`);
	return { value, created: false, path };
}

/** Checks an `Authorization` header against the token without leaking, through timing, how much of it matched. */
export function bearerMatches(header: string | undefined, token: string): boolean {
	return bearerChecker(token)(header);
}

/**
 * `bearerMatches` for one token, its digest worked out once: what the service runs on every
 * request. Both sides are SHA-256 digests of equal length, compared in constant time; `hash()`
 * is the one-shot form (no Hash object per call).
 */
export function bearerChecker(token: string): (header: string | undefined) => boolean {
	const expected = hash("sha256", token, "buffer");
	return (header) => {
		if (header === undefined || !header.startsWith("Bearer ")) return false;
		return timingSafeEqual(hash("sha256", header.slice(7).trim(), "buffer"), expected);
	};
}
