/**
 * The server the HTTP benchmark talks to, run as a child process so that its work does not
 * share the client's event loop: a keep-alive node:http server and a node:https one with a
 * self-signed certificate. Prints `{"http":port,"https":port}` on its first stdout line.
 */
import http from "node:http";
import https from "node:https";

const { key, cert } = JSON.parse(process.argv[2] ?? "{}") as { key: string; cert: string };
const body = Buffer.from("ok");
const handle = (_req: http.IncomingMessage, res: http.ServerResponse) => {
	res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
	res.end(body);
};
const plain = http.createServer({ keepAliveTimeout: 60_000 }, handle);
const secure = https.createServer({ key, cert, keepAliveTimeout: 60_000 }, handle);
await Promise.all([new Promise<void>((r) => plain.listen(0, "127.0.0.1", r)), new Promise<void>((r) => secure.listen(0, "127.0.0.1", r))]);
const port = (s: http.Server) => (s.address() as { port: number }).port;
process.stdout.write(`${JSON.stringify({ http: port(plain), https: port(secure) })}\n`);
process.on("disconnect", () => process.exit(0));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
