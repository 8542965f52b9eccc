/**
 * One contender of bench/http.bench.ts in a process of its own (the isolated comparison):
 * `node bench/http-contender.ts <lifeguard|undici.Pool> <origin> <callers>` opens the client
 * with one connection per caller, warms it, then runs the rounds bench/rounds.ts asks for:
 * keep-alive GET, the body read to its end.
 */
import { Pool } from "undici";
import { createHttpClient } from "../src/adapters/http/index.ts";
import { serveRounds } from "./rounds.ts";

const [which, origin, callersArg] = process.argv.slice(2);
const callers = Number(callersArg);

function open(): { get(): Promise<void>; close(): Promise<void> } {
	if (which === "lifeguard") {
		const client = createHttpClient({ name: "bench", maxConnectionsPerOrigin: callers, maxConnections: callers });
		return {
			get: async () => {
				const res = await client.request({ origin, path: "/", method: "GET" });
				await res.body.dump();
			},
			close: () => client.close(),
		};
	}
	if (which === "undici.Pool") {
		const pool = new Pool(origin, { connections: callers });
		return {
			get: async () => {
				const res = await pool.request({ path: "/", method: "GET" });
				await res.body.dump();
			},
			close: () => pool.close(),
		};
	}
	throw new Error(`http-contender: unknown client "${which}"`);
}

const client = open();
// Every connection opened and the code warm before the first timed round.
let left = 2_000;
await Promise.all(
	Array.from({ length: callers }, async () => {
		while (left-- > 0) await client.get();
	}),
);
serveRounds(
	which,
	() => client.get(),
	() => client.close(),
);
