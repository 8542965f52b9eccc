/**
 * The document stores' servers for bench/docstores.bench.ts, each in its own process so that it
 * does not share the load generator's event loop: `mongo` (the wire-protocol test server) or
 * `firestore` (the npm Firestore emulator). Prints `listening on <port>` and runs until SIGTERM.
 */
import { Emulator } from "../test/firestore/emulator.ts";
import { MongoWireServer } from "../test/mongodb/server.ts";

const which = process.argv[2];
if (which === "mongo") {
	const server = new MongoWireServer();
	await server.start();
	console.log(`listening on ${server.port}`);
	process.once("SIGTERM", () => void server.stop().then(() => process.exit(0)));
} else if (which === "firestore") {
	const emulator = new Emulator();
	await emulator.start();
	console.log(`listening on ${emulator.port}`);
	process.once("SIGTERM", () => {
		emulator.stop();
		process.exit(0);
	});
} else {
	console.error("usage: docstores-server.ts mongo|firestore");
	process.exit(2);
}
