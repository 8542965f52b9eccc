/** What `shouldReconnect` and the `close` event learn about one close. */
export interface CloseInfo {
	/** The close code (1006 when the socket died without a close frame, or the handshake failed). */
	readonly code: number;
	readonly reason: string;
	/** The HTTP status when the server answered the handshake with something other than 101. */
	readonly handshakeStatus: number | undefined;
	/** Whether this socket had opened (false: the attempt failed). */
	readonly wasOpen: boolean;
	/** True when the heartbeat terminated a socket that stopped answering pings. */
	readonly heartbeatTimeout: boolean;
	/** The socket error behind the close, if any (its message only). */
	readonly error: string | undefined;
	/** Failed attempts in a row, this one included when it failed. */
	readonly failures: number;
}

/** ws reports a refused handshake only in this message ("Unexpected server response: 403"). */
export function handshakeStatusOf(message: string | undefined): number | undefined {
	const match = message === undefined ? null : /^Unexpected server response: (\d{3})$/.exec(message);
	return match === null ? undefined : Number(match[1]);
}
