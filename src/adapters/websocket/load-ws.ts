/**
 * Loads `ws` on first use: it is an optional peer dependency, so users of other adapters never
 * need it, and users of this one without it get DRIVER_MISSING saying what to install.
 */
import type { WebSocket } from "ws";
import { WebSocketDriverMissingError } from "./errors.ts";

export type WebSocketClass = typeof WebSocket;

let loading: Promise<WebSocketClass> | undefined;

/** The `ws` client class; `adapter` names the lifeguard subpath in the DRIVER_MISSING message. */
export function loadWs(adapter = "websocket"): Promise<WebSocketClass> {
	loading ??= import("ws").then(
		(module) => module.WebSocket ?? (module.default as unknown as WebSocketClass),
		(error: unknown) => {
			loading = undefined;
			const code = (error as NodeJS.ErrnoException | undefined)?.code;
			if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") throw new WebSocketDriverMissingError(adapter, error);
			throw error;
		},
	);
	return loading;
}
