/**
 * WebSocket URLs often carry a token (`wss://feed/?token=…`, `wss://user:pass@host`): what is
 * shown in errors, statistics and labels keeps the scheme, host and path and drops the rest.
 */
export function displayUrl(text: string): string {
	try {
		const url = new URL(text);
		const query = url.search === "" ? "" : "?…";
		return `${url.protocol}//${url.host}${url.pathname}${query}`;
	} catch {
		return "(invalid URL)";
	}
}
