/** Shared by the SQLite tests: temporary database files, and statements that take a long time on purpose. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A recursive CTE counting to `n`: pure CPU inside SQLite, about 7 million rows a second here. */
export function countTo(n: number): string {
	return `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) SELECT count(*) AS n FROM c`;
}

/** An endless recursive CTE: only a fetch mode that stops reading can return from it. */
export const ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c";

/** A directory under os.tmpdir() for database files; `remove()` deletes it and everything in it. */
export function tempDirectory(prefix: string): { path: string; file(name: string): string; remove(): void } {
	const path = mkdtempSync(join(tmpdir(), `lifeguard-${prefix}-`));
	return {
		path,
		file: (name) => join(path, name),
		remove: () => rmSync(path, { recursive: true, force: true }),
	};
}

/** True while a process with this id exists. */
export function processExists(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}
