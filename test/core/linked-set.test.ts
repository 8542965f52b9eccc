/** LinkedSet: the in-flight list that replaces a Set churned once per request. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type LinkedEntry, LinkedSet } from "../../src/core/linked-set.ts";

describe("LinkedSet", () => {
	it("keeps insertion order, deletes from anywhere, and a second delete does nothing", () => {
		const set = new LinkedSet<string>();
		const a = set.add("a");
		const b = set.add("b");
		const c = set.add("c");
		assert.deepEqual(set.values(), ["a", "b", "c"]);
		set.delete(b);
		assert.deepEqual(set.values(), ["a", "c"]);
		set.delete(b);
		assert.equal(set.size, 2);
		set.delete(a);
		set.delete(c);
		assert.equal(set.size, 0);
		assert.deepEqual(set.values(), []);
		set.add("d");
		assert.deepEqual(set.values(), ["d"]);
	});

	it("a deleted entry holds nothing: neither its value nor its neighbours", () => {
		const set = new LinkedSet<object>();
		set.add({});
		const middle = set.add({});
		set.add({});
		set.delete(middle);
		assert.equal(middle.value, undefined);
		assert.equal(middle.prev, undefined);
		assert.equal(middle.next, undefined);
	});

	it("an entry of another set is not deleted, and leaves both sets as they were", () => {
		const one = new LinkedSet<string>();
		const other = new LinkedSet<string>();
		one.add("a");
		const b = other.add("b");
		other.add("c");
		one.delete(b);
		assert.deepEqual(one.values(), ["a"]);
		assert.deepEqual(other.values(), ["b", "c"]);
		assert.equal(one.size, 1);
		other.delete(b);
		assert.deepEqual(other.values(), ["c"]);
	});

	it("after clear() the old entries are dead: deleting one does not touch what was added since", () => {
		const set = new LinkedSet<string>();
		const a = set.add("a");
		set.clear();
		set.add("b");
		set.delete(a);
		assert.deepEqual(set.values(), ["b"]);
		assert.equal(set.size, 1);
	});

	it("values() is a copy: deleting while walking it visits every value once", () => {
		const set = new LinkedSet<number>();
		const entries = [1, 2, 3, 4].map((n) => set.add(n));
		const seen: number[] = [];
		for (const n of set.values()) {
			seen.push(n);
			set.delete(entries[n - 1]);
		}
		assert.deepEqual(seen, [1, 2, 3, 4]);
		assert.equal(set.size, 0);
	});

	it("behaves as a Set of what was added and not yet deleted, for any sequence", () => {
		fc.assert(
			fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(20)), { maxLength: 200 }), (steps) => {
				const set = new LinkedSet<number>();
				const model: { n: number; entry: LinkedEntry<number> }[] = [];
				let next = 0;
				for (const [adding, pick] of steps) {
					if (adding || model.length === 0) {
						const n = next++;
						model.push({ n, entry: set.add(n) });
					} else {
						const [gone] = model.splice(pick % model.length, 1);
						set.delete(gone.entry);
					}
					assert.equal(set.size, model.length);
				}
				assert.deepEqual(
					set.values(),
					model.map((m) => m.n),
				);
			}),
		);
	});
});
