/**
 * A TCP proxy the test owns, on 127.0.0.1, in front of a real server: it can pass traffic,
 * stall it (accept and never answer, or stop forwarding), or cut every connection. Fault tests
 * use it so that they break only their own connections, never the shared service.
 */
import net from "node:net";

export type ProxyMode = "pass" | "stall" | "refuse";

export class TcpProxy {
	readonly #target: { host: string; port: number };
	readonly #server: net.Server;
	readonly #pairs = new Set<{ client: net.Socket; upstream: net.Socket | undefined }>();
	#mode: ProxyMode = "pass";
	port = 0;

	constructor(targetPort: number, targetHost = "127.0.0.1") {
		this.#target = { host: targetHost, port: targetPort };
		this.#server = net.createServer((client) => this.#accept(client));
	}

	static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
		const proxy = new TcpProxy(targetPort, targetHost);
		await new Promise<void>((resolve) => proxy.#server.listen(0, "127.0.0.1", resolve));
		proxy.port = (proxy.#server.address() as net.AddressInfo).port;
		return proxy;
	}

	/** Connections accepted so far and still open. */
	get connections(): number {
		return this.#pairs.size;
	}

	/**
	 * `pass`: forward. `stall`: new connections are accepted but get no bytes either way, and
	 * open ones stop forwarding. `refuse`: new connections are closed at once.
	 */
	setMode(mode: ProxyMode): void {
		this.#mode = mode;
		for (const pair of this.#pairs) {
			if (mode === "stall") {
				pair.client.pause();
				pair.upstream?.pause();
			} else if (mode === "pass") {
				pair.client.resume();
				pair.upstream?.resume();
			}
		}
	}

	/** Destroys every open connection, both sides (a network cut or a server-side kill). */
	cutAll(): void {
		for (const pair of this.#pairs) {
			pair.client.destroy();
			pair.upstream?.destroy();
		}
		this.#pairs.clear();
	}

	async close(): Promise<void> {
		this.cutAll();
		await new Promise<void>((resolve) => this.#server.close(() => resolve()));
	}

	#accept(client: net.Socket): void {
		client.on("error", () => {});
		if (this.#mode === "refuse") {
			client.destroy();
			return;
		}
		const pair: { client: net.Socket; upstream: net.Socket | undefined } = { client, upstream: undefined };
		this.#pairs.add(pair);
		client.on("close", () => {
			pair.upstream?.destroy();
			this.#pairs.delete(pair);
		});
		if (this.#mode === "stall") {
			client.pause();
			return;
		}
		const upstream = net.connect(this.#target.port, this.#target.host);
		pair.upstream = upstream;
		upstream.on("error", () => client.destroy());
		upstream.on("close", () => client.destroy());
		client.pipe(upstream);
		upstream.pipe(client);
	}
}
