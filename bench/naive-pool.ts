/**
 * The simplest pool that works: an array of idle resources and an array of waiting resolvers.
 * No timeouts, statistics, validation or safety checks: the ceiling a real pool can approach.
 */
export class NaivePool<T> {
	readonly #idle: T[];
	readonly #waiters: ((resource: T) => void)[] = [];

	constructor(resources: T[]) {
		this.#idle = [...resources];
	}

	acquire(): Promise<T> {
		return new Promise<T>((resolve) => {
			const resource = this.#idle.pop();
			if (resource !== undefined) resolve(resource);
			else this.#waiters.push(resolve);
		});
	}

	release(resource: T): void {
		const waiter = this.#waiters.shift();
		if (waiter !== undefined) waiter(resource);
		else this.#idle.push(resource);
	}
}
