/**
 * A WebSocket feed that survives its server: connect, subscribe (remembered), read as an async
 * iterator, watch the server restart, and see the client come back and re-subscribe by itself.
 * A 403 stops at once instead of looping. The example starts its own local `ws` server.
 * Run: npx node examples/websocket.ts
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { createWebSocketManager, WebSocketStoppedError } from "../src/adapters/websocket/index.ts";

// A tiny ticker server: {"subscribe": "BTC"} starts a price stream for that symbol; /private answers 403.
function startServer(port = 0): Promise<{ server: http.Server; wss: WebSocketServer; port: number }> {
	const server = http.createServer();
	const wss = new WebSocketServer({ noServer: true });
	server.on("upgrade", (req, socket, head) => {
		if (req.url === "/private") return void socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
		wss.handleUpgrade(req, socket, head, (ws) => {
			ws.on("message", (data) => {
				const { subscribe } = JSON.parse(String(data)) as { subscribe: string };
				let price = 100;
				const timer = setInterval(() => ws.send(JSON.stringify({ symbol: subscribe, price: (price += 1) })), 20);
				ws.on("close", () => clearInterval(timer));
			});
		});
	});
	return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve({ server, wss, port: (server.address() as AddressInfo).port })));
}

let { server, wss, port } = await startServer();
const stopServer = () => {
	for (const client of wss.clients) client.terminate(); // a crash: no close frame
	server.close();
};
const feeds = createWebSocketManager({ name: "ticker", maxConnections: 10, pingIntervalMs: 50, pongTimeoutMs: 500, reconnectInitialMs: 200 });
feeds.on("reconnecting", ({ key, delayMs }) => console.log(`  ${key}: down, reconnecting in ${delayMs} ms (full jitter)`));
feeds.on("open", ({ key, reconnect }) => reconnect && console.log(`  ${key}: back, subscription re-sent`));

try {
	await feeds.connect({ url: `ws://127.0.0.1:${port}/ticks`, name: "btc" });
	await feeds.subscribe("btc", { subscribe: "BTC" }); // sent now and after every reconnect

	let seen = 0;
	for await (const message of feeds.messages("btc")) {
		const tick = JSON.parse(String(message)) as { symbol: string; price: number };
		if (++seen === 3) {
			console.log(`3 ticks, last ${tick.symbol} ${tick.price}; restarting the server…`);
			stopServer();
			({ server, wss } = await startServer(port));
		}
		if (seen === 6) {
			console.log(`tick after the restart: ${tick.symbol} ${tick.price}`);
			break;
		}
	}

	// Sends while down are queued (bounded); a refused handshake stops, with the reason.
	const denied = await feeds.connect({ url: `ws://127.0.0.1:${port}/private`, name: "private" }).catch((e: unknown) => e);
	if (denied instanceof WebSocketStoppedError) console.log(`private: ${denied.code} ${denied.reason} (HTTP ${denied.handshakeStatus}), no retry loop`);

	const { open, reconnects, messagesIn, byKey } = feeds.stats();
	console.log(`stats: open ${open}, reconnects ${reconnects}, messages in ${messagesIn}, heartbeat rtt ${byKey.btc.rttMs.last?.toFixed(2) ?? "-"} ms`);
} finally {
	await feeds.close();
	stopServer();
}
