/**
 * `lifeguard/websocket`: a manager of WebSocket connections on `ws` with heartbeats, jittered
 * reconnects, remembered subscriptions and bounded send queues. See docs/adapters/websocket.md.
 */
export type { CloseInfo } from "./close-info.ts";
export { ConnectionState, type Subscription, WebSocketConnection, type WebSocketConnectionStats } from "./connection.ts";
export {
	StopReason,
	WebSocketClosedError,
	WebSocketDriverMissingError,
	WebSocketLimitError,
	WebSocketNotFoundError,
	WebSocketOpenTimeoutError,
	WebSocketQueueFullError,
	WebSocketReceiveOverflowError,
	WebSocketReceiveTimeoutError,
	WebSocketSendFailedError,
	WebSocketStoppedError,
} from "./errors.ts";
export {
	type ConnectOptions,
	type ConnectTarget,
	createWebSocketManager,
	WebSocketManager,
	type WebSocketManagerEvents,
	type WebSocketManagerStats,
} from "./manager.ts";
export type { TakeOptions } from "./message-stream.ts";
export {
	defaultShouldReconnect,
	type OpenContext,
	type Outgoing,
	WEBSOCKET_DEFAULTS,
	type WebSocketConnectionOptions,
	type WebSocketData,
	type WebSocketManagerOptions,
} from "./options.ts";
export { fullJitterDelay } from "./reconnect-backoff.ts";
