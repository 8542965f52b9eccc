/**
 * Addresses of the real services the tests use (see DEVELOPERS.md). A missing service fails
 * the test that needs it with a message saying how to start it: never a silent skip.
 */
import net from "node:net";

export const services = {
	postgres: {
		host: "127.0.0.1",
		port: Number(process.env.PGPORT ?? 5432),
		user: process.env.PGUSER ?? "postgres",
		database: process.env.PGDATABASE ?? "test",
		start: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
	},
	mysql: {
		host: "127.0.0.1",
		port: Number(process.env.MYSQL_PORT ?? 3306),
		user: "root",
		database: "test",
		start: "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
	},
	redis: {
		host: "127.0.0.1",
		port: Number(process.env.REDIS_PORT ?? 6379),
		start: 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
	},
} as const;

/** Resolves when something accepts TCP connections at host:port; rejects with how to start it. */
export async function requireService(name: keyof typeof services, timeoutMs = 2_000): Promise<void> {
	const s = services[name];
	const ok = await new Promise<boolean>((resolve) => {
		const socket = net.connect(s.port, s.host);
		const timer = setTimeout(() => {
			socket.destroy();
			resolve(false);
		}, timeoutMs);
		socket.once("connect", () => {
			clearTimeout(timer);
			socket.destroy();
			resolve(true);
		});
		socket.once("error", () => {
			clearTimeout(timer);
			resolve(false);
		});
	});
	if (!ok) throw new Error(`${name} is not reachable at ${s.host}:${s.port}; start it with: ${s.start}`);
}
