/**
 * Follows a Sentinel failover as it is announced. A connection to a demoted primary stays open
 * until Sentinel reconfigures that server (seconds later), and until then it takes writes the
 * new primary never sees. So every sentinel is subscribed to `+switch-master`, and when one
 * announces a new address for our primary, every pooled connection is closed: the pool replaces
 * them, and each new one asks the sentinels where the primary is.
 */
import type { Redis } from "ioredis";
import type { RedisSentinelOptions } from "./config.ts";
import { closeNow } from "./driver.ts";
import type { IoredisModule } from "./load.ts";

export class SentinelWatch {
	readonly #subscribers: Redis[] = [];
	/** "ip port" of the primary last acted on, so the same announcement from several sentinels acts once. */
	#announced: string | undefined;

	constructor(driver: IoredisModule, options: RedisSentinelOptions, onSwitch: () => void) {
		for (const { host, port } of options.sentinels) {
			// ioredis's own reconnects are wanted here: a sentinel that restarts is subscribed again.
			const subscriber = new driver.Redis({ host, port, password: options.sentinelPassword, lazyConnect: true, maxRetriesPerRequest: null });
			subscriber.on("error", () => {});
			subscriber.on("message", (_channel: string, message: string) => {
				// "<name> <old-ip> <old-port> <new-ip> <new-port>"
				const [name, , , ip, newPort] = message.split(" ");
				if (name !== options.masterName) return;
				const address = `${ip} ${newPort}`;
				if (address === this.#announced) return;
				this.#announced = address;
				onSwitch();
			});
			subscriber.connect().then(
				() => {
					subscriber.stream?.unref();
					return subscriber.subscribe("+switch-master");
				},
				() => {},
			);
			this.#subscribers.push(subscriber);
		}
	}

	close(): void {
		for (const subscriber of this.#subscribers) closeNow(subscriber);
	}
}
