/**
 * WebSocket: 1,000 clients against one server restart, lifeguard's full-jitter backoff against
 * the fixed reconnect interval many clients use (reconnect 1 s after every close): when they
 * come back, how many arrive in the busiest 100 ms, how many handshakes it took; and how long
 * a half-open connection (a network that stops delivering) takes to be noticed.
 */
import { WebSocket } from "ws";
import { createWebSocketManager } from "../src/adapters/websocket/index.ts";
import { TcpProxy } from "../test/support/tcp-proxy.ts";
import { FaultServer } from "../test/websocket/fault-server.ts";

const CLIENTS = 1_000;
const DOWN_MS = 500;

interface Spread {
	firstMs: number;
	p50Ms: number;
	p90Ms: number;
	lastMs: number;
	busiest100Ms: number;
	handshakesAfterRestart: number;
	allBackMs: number;
}

async function measure(connectAll: (url: string) => Promise<{ open: () => number; close: () => Promise<void> }>): Promise<Spread> {
	const server = await FaultServer.start({ onMessage: () => {} });
	const clients = await connectAll(server.url);
	try {
		await server.stop();
		while (clients.open() > 0) await new Promise((r) => setTimeout(r, 5));
		await new Promise((r) => setTimeout(r, DOWN_MS));
		server.openTimes.length = 0;
		const before = server.handshakes;
		const up = performance.now();
		await server.restart();
		while (clients.open() < CLIENTS && performance.now() - up < 30_000) await new Promise((r) => setTimeout(r, 5));
		const allBackMs = performance.now() - up;
		const times = server.openTimes.map((t) => t - up).sort((a, b) => a - b);
		const at = (q: number) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]);
		const windows = new Map<number, number>();
		for (const t of times) windows.set(Math.floor(t / 100), (windows.get(Math.floor(t / 100)) ?? 0) + 1);
		return {
			firstMs: at(0),
			p50Ms: at(0.5),
			p90Ms: at(0.9),
			lastMs: at(1),
			busiest100Ms: Math.max(...windows.values()),
			handshakesAfterRestart: server.handshakes - before,
			allBackMs: Math.round(allBackMs),
		};
	} finally {
		await clients.close();
		await server.close();
	}
}

async function lifeguard(url: string) {
	const ws = createWebSocketManager({ maxConnections: CLIENTS, reconnectInitialMs: 1_000, reconnectMaxMs: 4_000, pingIntervalMs: 0 });
	await Promise.all(Array.from({ length: CLIENTS }, (_, i) => ws.connect({ url, name: `c${i}` })));
	return { open: () => ws.stats().open, close: () => ws.close() };
}

/** The fixed-interval reconnect of many hand-written clients: 1 s after every close, forever. */
async function fixedInterval(url: string) {
	const sockets = new Set<WebSocket>();
	let open = 0;
	let closed = false;
	const connect = (): Promise<void> =>
		new Promise((resolve) => {
			const socket = new WebSocket(url);
			socket.on("open", () => {
				open++;
				sockets.add(socket);
				resolve();
			});
			socket.on("error", () => {});
			socket.on("close", () => {
				if (sockets.delete(socket)) open--;
				if (!closed) setTimeout(() => void connect(), 1_000);
				resolve();
			});
		});
	await Promise.all(Array.from({ length: CLIENTS }, connect));
	return {
		open: () => open,
		close: async () => {
			closed = true;
			for (const s of sockets) s.terminate();
		},
	};
}

async function halfOpenMs(pingIntervalMs: number, pongTimeoutMs: number): Promise<number> {
	const server = await FaultServer.start();
	const proxy = await TcpProxy.start(server.port);
	const ws = createWebSocketManager({ pingIntervalMs, pongTimeoutMs, reconnectInitialMs: 60_000 });
	try {
		const c = await ws.connect(`ws://127.0.0.1:${proxy.port}/feed`);
		proxy.setMode("stall");
		const stalled = performance.now();
		await new Promise((resolve) => c.once("close", resolve));
		return Math.round(performance.now() - stalled);
	} finally {
		await ws.close({ timeoutMs: 100 });
		await proxy.close();
		await server.close();
	}
}

export const name = "websocket";

export async function run(): Promise<Record<string, unknown>> {
	return {
		clients: CLIENTS,
		serverDownMs: DOWN_MS,
		restart: { lifeguardFullJitter: await measure(lifeguard), fixedInterval1s: await measure(fixedInterval) },
		halfOpenNoticedMs: { "ping 1000 / pong 1000": await halfOpenMs(1_000, 1_000), "defaults (ping 10000 / pong 5000)": await halfOpenMs(10_000, 5_000) },
	};
}
