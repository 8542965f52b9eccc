/**
 * The Firestore emulator for the tests: `@firestore-emulator/server` (a Node implementation of
 * Firestore's gRPC API) on a free port, with FIRESTORE_EMULATOR_HOST pointing the real driver at
 * it. `restart()` stops it and starts a fresh one on the same port (its data is in memory, so
 * the documents go with it), as a restarting emulator or backend does.
 */
import net from "node:net";
import { FirestoreServer } from "@firestore-emulator/server";

export const PROJECT_ID = "lifeguard-test";

export async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const probe = net.createServer();
		probe.once("error", reject);
		probe.listen(0, "127.0.0.1", () => {
			const { port } = probe.address() as net.AddressInfo;
			probe.close(() => resolve(port));
		});
	});
}

export class Emulator {
	#server: FirestoreServer | undefined;
	port = 0;

	/** Starts the emulator and points the driver at it (the driver reads the variable when a Firestore instance is made). */
	async start(): Promise<void> {
		this.port ||= await freePort();
		process.env.FIRESTORE_EMULATOR_HOST = `127.0.0.1:${this.port}`;
		// The driver otherwise probes the GCE metadata server for a project on its first call.
		process.env.METADATA_SERVER_DETECTION = "none";
		const server = new FirestoreServer();
		await server.start(this.port);
		this.#server = server;
	}

	stop(): void {
		this.#server?.stop();
		this.#server = undefined;
	}

	async restart(downMs = 0): Promise<void> {
		this.stop();
		if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
		await this.start();
	}
}
