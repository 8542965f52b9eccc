/**
 * A growable ring buffer: O(1) push and pop at both ends without the O(n) `Array#shift`.
 * Used for waiters (FIFO) and idle connections (LIFO or FIFO).
 */
export class Deque<T> {
	#items: (T | undefined)[];
	#head = 0;
	#length = 0;
	#mask: number;

	constructor(capacityPowerOfTwo = 16) {
		this.#items = new Array(capacityPowerOfTwo);
		this.#mask = capacityPowerOfTwo - 1;
	}

	get length(): number {
		return this.#length;
	}

	push(item: T): void {
		if (this.#length > this.#mask) this.#grow();
		this.#items[(this.#head + this.#length) & this.#mask] = item;
		this.#length++;
	}

	unshift(item: T): void {
		if (this.#length > this.#mask) this.#grow();
		this.#head = (this.#head - 1) & this.#mask;
		this.#items[this.#head] = item;
		this.#length++;
	}

	shift(): T | undefined {
		if (this.#length === 0) return undefined;
		const item = this.#items[this.#head];
		this.#items[this.#head] = undefined;
		this.#head = (this.#head + 1) & this.#mask;
		this.#length--;
		return item;
	}

	pop(): T | undefined {
		if (this.#length === 0) return undefined;
		const i = (this.#head + this.#length - 1) & this.#mask;
		const item = this.#items[i];
		this.#items[i] = undefined;
		this.#length--;
		return item;
	}

	peekFirst(): T | undefined {
		return this.#length === 0 ? undefined : this.#items[this.#head];
	}

	at(index: number): T | undefined {
		return index < 0 || index >= this.#length ? undefined : this.#items[(this.#head + index) & this.#mask];
	}

	/** Keeps the items for which `keep` returns true, in order. O(n); for housekeeping, not hot paths. */
	filter(keep: (item: T) => boolean): void {
		const kept: T[] = [];
		for (let i = 0; i < this.#length; i++) {
			const item = this.#items[(this.#head + i) & this.#mask] as T;
			if (keep(item)) kept.push(item);
		}
		this.clear();
		for (const item of kept) this.push(item);
	}

	/** Removes one item by identity; returns whether it was there. O(n). */
	remove(item: T): boolean {
		let found = false;
		this.filter((x) => {
			if (!found && x === item) {
				found = true;
				return false;
			}
			return true;
		});
		return found;
	}

	clear(): void {
		this.#items.fill(undefined);
		this.#head = 0;
		this.#length = 0;
	}

	*[Symbol.iterator](): IterableIterator<T> {
		for (let i = 0; i < this.#length; i++) yield this.#items[(this.#head + i) & this.#mask] as T;
	}

	#grow(): void {
		const size = this.#items.length;
		const next: (T | undefined)[] = new Array(size * 2);
		for (let i = 0; i < this.#length; i++) next[i] = this.#items[(this.#head + i) & this.#mask];
		this.#items = next;
		this.#head = 0;
		this.#mask = size * 2 - 1;
	}
}
