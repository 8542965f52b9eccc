/** A TCP port nothing listens on right now: bound on port 0, read, released. */
import net from "node:net";

export async function freePort(): Promise<number> {
	return await new Promise<number>((resolve, reject) => {
		const server = net.createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			const port = typeof address === "object" && address !== null ? address.port : 0;
			server.close(() => resolve(port));
		});
	});
}

/** `count` distinct free ports (each is held until all are found, so none repeats). */
export async function freePorts(count: number): Promise<number[]> {
	const servers: net.Server[] = [];
	try {
		const ports: number[] = [];
		for (let i = 0; i < count; i++) {
			const server = net.createServer();
			servers.push(server);
			ports.push(
				await new Promise<number>((resolve, reject) => {
					server.once("error", reject);
					server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
				}),
			);
		}
		return ports;
	} finally {
		await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
	}
}
