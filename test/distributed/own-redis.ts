/** A private redis-server on a spare port, for tests that stop and restart Redis (never the shared one on 6379). */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { after, before } from "node:test";
import { eventually } from "../support/wait.ts";

export function testPrefix(area: string): string {
	return `lifeguard:test:${area}:${randomBytes(4).toString("hex")}`;
}

export async function sparePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const port = (server.address() as net.AddressInfo).port;
			server.close(() => resolve(port));
		});
	});
}

function accepts(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = net.connect(port, "127.0.0.1");
		socket.once("connect", () => {
			socket.destroy();
			resolve(true);
		});
		socket.once("error", () => resolve(false));
	});
}

export class OwnRedis {
	readonly port: number;
	#child: ChildProcess | undefined;
	constructor(port: number) {
		this.port = port;
	}
	get url(): string {
		return `redis://127.0.0.1:${this.port}`;
	}
	async start(): Promise<void> {
		this.#child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
		if (!(await eventually(() => accepts(this.port), 5_000, 20))) throw new Error(`redis-server did not start on ${this.port}`);
	}
	async stop(): Promise<void> {
		const child = this.#child;
		this.#child = undefined;
		if (child === undefined || child.exitCode !== null) return;
		const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
		child.kill("SIGKILL");
		await exited;
	}
}

/**
 * A private redis-server for the enclosing describe block: started before its tests on a spare
 * port, stopped after them. Returns a getter, as the server exists only once before() has run.
 */
export function ownRedisForSuite(): () => OwnRedis {
	let redis: OwnRedis | undefined;
	before(async () => {
		redis = new OwnRedis(await sparePort());
		await redis.start();
	});
	after(() => redis?.stop());
	return () => {
		if (redis === undefined) throw new Error("ownRedisForSuite: the server starts in before()");
		return redis;
	};
}
