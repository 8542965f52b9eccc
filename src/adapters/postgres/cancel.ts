/**
 * PostgreSQL's out-of-band cancel: a new socket carrying the backend's process id and secret
 * key, which makes the server abort that backend's running statement (SQLSTATE 57014). The
 * connection itself stays usable, so a statement timeout costs no reconnect.
 */
import net from "node:net";

/** CancelRequest code from the protocol (1234 << 16 | 5678). */
const CANCEL_REQUEST_CODE = 80_877_102;

/** How long a cancel may take to be delivered before the attempt is given up. */
export const CANCEL_DELIVERY_MS = 1_000;

export interface CancelTarget {
	host: string;
	port: number;
	processID: number;
	secretKey: number;
}

/**
 * Sends the cancel and resolves once the server closed the cancel socket (it has signalled the
 * backend) or after `CANCEL_DELIVERY_MS`. Never rejects: a cancel that cannot be delivered is
 * covered by the client's backstop, which closes the connection.
 */
export function sendCancelRequest(target: CancelTarget): Promise<void> {
	return new Promise<void>((resolve) => {
		const socket = target.host.startsWith("/") ? net.connect(`${target.host}/.s.PGSQL.${target.port}`) : net.connect(target.port, target.host);
		const done = () => {
			clearTimeout(timer);
			socket.destroy();
			resolve();
		};
		const timer = setTimeout(done, CANCEL_DELIVERY_MS);
		socket.once("connect", () => {
			const message = Buffer.allocUnsafe(16);
			message.writeInt32BE(16, 0);
			message.writeInt32BE(CANCEL_REQUEST_CODE, 4);
			message.writeInt32BE(target.processID, 8);
			message.writeInt32BE(target.secretKey, 12);
			socket.end(message);
		});
		socket.once("close", done);
		socket.once("error", done);
	});
}
