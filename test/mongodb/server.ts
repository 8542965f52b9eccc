/**
 * A small MongoDB server for the tests: the wire protocol (OP_QUERY for the driver's first
 * handshake, OP_MSG for everything after) over TCP, documents kept in memory. It answers what
 * the real `mongodb` driver needs to connect, monitor, pool and run operations (hello/isMaster,
 * ping, buildInfo, insert, find, getMore, killCursors, endSessions) and nothing more: any other
 * command gets the error a real server gives an unknown one (code 59, CommandNotFound), naming
 * it, so a test that leans on something unimplemented fails loudly instead of passing on a fake.
 *
 * Filters support equality on top-level fields and $eq $ne $gt $gte $lt $lte $in; sort and
 * projection are on top-level fields. Tests can drop every connection (as a restarting server does) and slow a
 * command down (to exercise deadlines).
 */
import net from "node:net";
import { BSON, type Document, Long, ObjectId } from "bson";

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const HEADER_BYTES = 16;
const MAX_WIRE_VERSION = 21;
const DEFAULT_BATCH = 101;

/** The error code and name a real server uses for a command it does not know. */
export const COMMAND_NOT_FOUND = { code: 59, codeName: "CommandNotFound" } as const;

interface Cursor {
	readonly ns: string;
	readonly docs: Document[];
}

export interface MongoWireServerOptions {
	/** Port to listen on; 0 (default) picks a free one. */
	port?: number;
}

export class MongoWireServer {
	readonly #server: net.Server;
	readonly #sockets = new Set<net.Socket>();
	readonly #collections = new Map<string, Document[]>();
	readonly #cursors = new Map<bigint, Cursor>();
	readonly #delays = new Map<string, number>();
	#nextCursorId = 1n;
	#nextConnectionId = 1;
	/** Commands received, by name: tests read it to see what the driver sent. */
	readonly commands = new Map<string, number>();
	/** Connections accepted since start. */
	accepted = 0;
	port = 0;

	constructor() {
		this.#server = net.createServer((socket) => this.#accept(socket));
	}

	/** Listens on 127.0.0.1 (port 0 picks one) and resolves with the URL to give the driver. */
	async start(options: MongoWireServerOptions = {}): Promise<string> {
		await new Promise<void>((resolve, reject) => {
			this.#server.once("error", reject);
			this.#server.listen(options.port ?? 0, "127.0.0.1", () => {
				this.#server.off("error", reject);
				resolve();
			});
		});
		this.port = (this.#server.address() as net.AddressInfo).port;
		return this.url;
	}

	get url(): string {
		return `mongodb://127.0.0.1:${this.port}/`;
	}

	/** Open client connections right now. */
	get connections(): number {
		return this.#sockets.size;
	}

	/** Destroys every open connection, as a server that restarts or a network that drops does. */
	dropConnections(): void {
		for (const socket of this.#sockets) socket.destroy();
	}

	/** Answers `command` only after `ms` (0 removes the delay). */
	delay(command: string, ms: number): void {
		if (ms <= 0) this.#delays.delete(command);
		else this.#delays.set(command, ms);
	}

	/** The documents of `db.collection`, as stored. */
	documents(db: string, collection: string): Document[] {
		return this.#collections.get(`${db}.${collection}`) ?? [];
	}

	/** Stops listening and closes every connection. */
	async stop(): Promise<void> {
		this.dropConnections();
		await new Promise<void>((resolve) => this.#server.close(() => resolve()));
	}

	#accept(socket: net.Socket): void {
		this.accepted++;
		const connectionId = this.#nextConnectionId++;
		this.#sockets.add(socket);
		socket.setNoDelay(true);
		socket.on("close", () => this.#sockets.delete(socket));
		socket.on("error", () => socket.destroy());
		let buffered: Buffer = Buffer.alloc(0);
		socket.on("data", (chunk: Buffer) => {
			buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
			while (buffered.length >= 4) {
				const length = buffered.readInt32LE(0);
				if (buffered.length < length) break;
				const message = buffered.subarray(0, length);
				buffered = buffered.subarray(length);
				void this.#handle(socket, message, connectionId);
			}
		});
	}

	async #handle(socket: net.Socket, message: Buffer, connectionId: number): Promise<void> {
		const requestId = message.readInt32LE(4);
		const opCode = message.readInt32LE(12);
		if (opCode === OP_QUERY) {
			// flags(4), fullCollectionName cstring, numberToSkip(4), numberToReturn(4), query document.
			let at = HEADER_BYTES + 4;
			while (message[at] !== 0) at++;
			at += 1 + 8;
			const query = BSON.deserialize(message.subarray(at, at + message.readInt32LE(at)), { promoteLongs: false });
			const reply = await this.#run(unwrapQuery(query), connectionId);
			if (!socket.destroyed) socket.write(opReply(requestId, reply));
			return;
		}
		if (opCode !== OP_MSG) {
			socket.destroy();
			return;
		}
		const command = readOpMsg(message);
		const reply = await this.#run(command, connectionId);
		if (!socket.destroyed) socket.write(opMsg(requestId, reply));
	}

	async #run(command: Document, connectionId: number): Promise<Document> {
		const name = Object.keys(command)[0] ?? "";
		this.commands.set(name, (this.commands.get(name) ?? 0) + 1);
		const delay = this.#delays.get(name);
		if (delay !== undefined) await new Promise((resolve) => setTimeout(resolve, delay));
		try {
			return this.#answer(name, command, connectionId);
		} catch (error) {
			return { ok: 0, errmsg: (error as Error).message, code: 2, codeName: "BadValue" };
		}
	}

	#answer(name: string, command: Document, connectionId: number): Document {
		const db = typeof command.$db === "string" ? command.$db : "admin";
		switch (name) {
			case "hello":
			case "isMaster":
			case "ismaster":
				return {
					helloOk: true,
					isWritablePrimary: true,
					ismaster: true,
					maxBsonObjectSize: 16 * 1024 * 1024,
					maxMessageSizeBytes: 48_000_000,
					maxWriteBatchSize: 100_000,
					localTime: new Date(),
					logicalSessionTimeoutMinutes: 30,
					connectionId,
					minWireVersion: 0,
					maxWireVersion: MAX_WIRE_VERSION,
					readOnly: false,
					ok: 1,
				};
			case "ping":
			case "endSessions":
				return { ok: 1 };
			case "buildInfo":
			case "buildinfo":
				return { version: "7.0.0", versionArray: [7, 0, 0, 0], maxBsonObjectSize: 16 * 1024 * 1024, ok: 1 };
			case "insert": {
				const docs = (command.documents as Document[] | undefined) ?? [];
				const stored = this.#collection(db, String(command.insert));
				for (const doc of docs) stored.push({ _id: new ObjectId(), ...doc });
				return { n: docs.length, ok: 1 };
			}
			case "find":
				return this.#find(db, command);
			case "getMore":
				return this.#getMore(command);
			case "killCursors": {
				const ids = (command.cursors as Long[]).map((id) => BigInt(id.toString()));
				for (const id of ids) this.#cursors.delete(id);
				return { cursorsKilled: command.cursors, cursorsNotFound: [], cursorsAlive: [], cursorsUnknown: [], ok: 1 };
			}
			default:
				return { ok: 0, errmsg: `no such command: '${name}' (the lifeguard test server implements only what the tests need)`, ...COMMAND_NOT_FOUND };
		}
	}

	#collection(db: string, name: string): Document[] {
		const ns = `${db}.${name}`;
		let docs = this.#collections.get(ns);
		if (docs === undefined) this.#collections.set(ns, (docs = []));
		return docs;
	}

	#find(db: string, command: Document): Document {
		const ns = `${db}.${String(command.find)}`;
		let docs = (this.#collections.get(ns) ?? []).filter((doc) => matches(doc, (command.filter as Document | undefined) ?? {}));
		if (command.sort !== undefined) docs = sorted(docs, command.sort as Document);
		const skip = numberOf(command.skip) ?? 0;
		const limit = numberOf(command.limit) ?? 0;
		docs = docs.slice(skip, limit > 0 ? skip + limit : undefined);
		if (command.projection !== undefined) docs = docs.map((doc) => projected(doc, command.projection as Document));
		const batchSize = numberOf(command.batchSize) ?? DEFAULT_BATCH;
		const firstBatch = docs.slice(0, batchSize);
		const rest = docs.slice(batchSize);
		const id = command.singleBatch === true || rest.length === 0 ? 0n : this.#openCursor(ns, rest);
		return { cursor: { firstBatch, id: Long.fromBigInt(id), ns }, ok: 1 };
	}

	#openCursor(ns: string, docs: Document[]): bigint {
		const id = this.#nextCursorId++;
		this.#cursors.set(id, { ns, docs });
		return id;
	}

	#getMore(command: Document): Document {
		const id = BigInt((command.getMore as Long).toString());
		const cursor = this.#cursors.get(id);
		if (cursor === undefined) return { ok: 0, errmsg: `cursor id ${id} not found`, code: 43, codeName: "CursorNotFound" };
		const batchSize = numberOf(command.batchSize) ?? DEFAULT_BATCH;
		const nextBatch = cursor.docs.splice(0, batchSize);
		const done = cursor.docs.length === 0;
		if (done) this.#cursors.delete(id);
		return { cursor: { nextBatch, id: Long.fromBigInt(done ? 0n : id), ns: cursor.ns }, ok: 1 };
	}
}

/** OP_QUERY wraps the command as `{ $query: {...} }` when it carries a read preference. */
function unwrapQuery(query: Document): Document {
	return typeof query.$query === "object" && query.$query !== null ? (query.$query as Document) : query;
}

/** An OP_MSG's command: the body section, with each document sequence section set as an array field. */
function readOpMsg(message: Buffer): Document {
	let at = HEADER_BYTES + 4;
	let body: Document = {};
	const sequences: [string, Document[]][] = [];
	while (at < message.length) {
		const kind = message[at];
		at += 1;
		const size = message.readInt32LE(at);
		if (kind === 0) {
			body = BSON.deserialize(message.subarray(at, at + size), { promoteLongs: false });
			at += size;
			continue;
		}
		const end = at + size;
		let cursor = at + 4;
		const idEnd = message.indexOf(0, cursor);
		const identifier = message.toString("utf8", cursor, idEnd);
		cursor = idEnd + 1;
		const docs: Document[] = [];
		while (cursor < end) {
			const docSize = message.readInt32LE(cursor);
			docs.push(BSON.deserialize(message.subarray(cursor, cursor + docSize), { promoteLongs: false }));
			cursor += docSize;
		}
		sequences.push([identifier, docs]);
		at = end;
	}
	for (const [identifier, docs] of sequences) body[identifier] = docs;
	return body;
}

function header(length: number, responseTo: number, opCode: number): Buffer {
	const h = Buffer.alloc(HEADER_BYTES);
	h.writeInt32LE(length, 0);
	h.writeInt32LE(0, 4);
	h.writeInt32LE(responseTo, 8);
	h.writeInt32LE(opCode, 12);
	return h;
}

function opMsg(responseTo: number, reply: Document): Buffer {
	const body = BSON.serialize(reply);
	const flags = Buffer.alloc(5);
	return Buffer.concat([header(HEADER_BYTES + flags.length + body.length, responseTo, OP_MSG), flags, body]);
}

function opReply(responseTo: number, reply: Document): Buffer {
	const body = BSON.serialize(reply);
	// responseFlags(4) cursorID(8) startingFrom(4) numberReturned(4)
	const fields = Buffer.alloc(20);
	fields.writeInt32LE(1, 16);
	return Buffer.concat([header(HEADER_BYTES + fields.length + body.length, responseTo, OP_REPLY), fields, body]);
}

function numberOf(value: unknown): number | undefined {
	if (value === undefined || value === null) return undefined;
	return Number(typeof value === "object" ? value.toString() : value);
}

function comparable(value: unknown): unknown {
	if (value instanceof Long) return Number(value.toString());
	if (value instanceof ObjectId) return value.toHexString();
	if (value instanceof Date) return value.getTime();
	if (typeof value === "object" && value !== null && "_bsontype" in value) return Number(String(value));
	return value;
}

function compare(a: unknown, b: unknown): number {
	const x = comparable(a) as number | string;
	const y = comparable(b) as number | string;
	return x < y ? -1 : x > y ? 1 : 0;
}

function matches(doc: Document, filter: Document): boolean {
	for (const [field, condition] of Object.entries(filter)) {
		const value = doc[field];
		const isOperators = typeof condition === "object" && condition !== null && Object.keys(condition).every((k) => k.startsWith("$"));
		if (!isOperators || Object.keys(condition).length === 0) {
			if (compare(value, condition) !== 0) return false;
			continue;
		}
		for (const [op, operand] of Object.entries(condition as Document)) {
			const c = value === undefined ? Number.NaN : compare(value, operand);
			const ok =
				op === "$eq"
					? c === 0
					: op === "$ne"
						? c !== 0
						: op === "$gt"
							? c > 0
							: op === "$gte"
								? c >= 0
								: op === "$lt"
									? c < 0
									: op === "$lte"
										? c <= 0
										: op === "$in"
											? (operand as unknown[]).some((o) => compare(value, o) === 0)
											: unsupported(op);
			if (!ok) return false;
		}
	}
	return true;
}

function unsupported(op: string): never {
	throw new Error(`query operator ${op} is not implemented by the lifeguard test server`);
}

/** Top-level projections only: all inclusions (plus `_id` unless excluded) or all exclusions. */
function projected(doc: Document, projection: Document): Document {
	const entries = Object.entries(projection).map(([k, v]) => [k, Boolean(Number(v))] as const);
	const including = entries.some(([k, on]) => on && k !== "_id");
	const out: Document = {};
	if (including) {
		const idOff = entries.some(([k, on]) => k === "_id" && !on);
		if (!idOff && "_id" in doc) out._id = doc._id;
		for (const [k, on] of entries) if (on && k in doc) out[k] = doc[k];
		return out;
	}
	const excluded = new Set(entries.filter(([, on]) => !on).map(([k]) => k));
	for (const [k, v] of Object.entries(doc)) if (!excluded.has(k)) out[k] = v;
	return out;
}

function sorted(docs: Document[], sort: Document): Document[] {
	const keys = Object.entries(sort).map(([k, d]) => [k, Number(d)] as const);
	return [...docs].sort((a, b) => {
		for (const [k, direction] of keys) {
			const c = compare(a[k], b[k]);
			if (c !== 0) return c * direction;
		}
		return 0;
	});
}
