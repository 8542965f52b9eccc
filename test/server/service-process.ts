/**
 * The service as the user runs it: `lifeguard serve` in a child process on a random port, with its
 * own data directory. Parses the banner for the address and the admin token.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = new URL("../../src/cli/bin.ts", import.meta.url).pathname;

/** A reply's JSON body, read loosely: tests assert on its fields. */
// biome-ignore lint/suspicious/noExplicitAny: the tests read arbitrary JSON bodies.
export type Json = any;

export interface Reply {
	status: number;
	body: Json;
	headers: Headers;
}

export interface ServiceProcess {
	readonly url: string;
	/** The admin token, when this start printed it (first start of its data directory). */
	readonly token: string | undefined;
	readonly dataDir: string;
	readonly child: ChildProcess;
	stdout(): string;
	stderr(): string;
	/** Sends `signal` and resolves with the exit code (or the signal) once the process has exited. */
	stop(signal?: NodeJS.Signals): Promise<number | string>;
	/** Authorization header for the admin token. */
	auth(): { authorization: string };
	/** JSON request to the service with the admin token. */
	request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
}

export async function startServiceProcess(
	options: { args?: string[]; dataDir?: string; env?: NodeJS.ProcessEnv; keepDataDir?: boolean } = {},
): Promise<ServiceProcess> {
	const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "lifeguard-service-test-"));
	const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--data-dir", dataDir, ...(options.args ?? [])], {
		env: { ...process.env, ...options.env },
		stdio: ["ignore", "pipe", "pipe"],
	});
	let out = "";
	let err = "";
	child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
	child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
	const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`the service did not start within 20 s\nstdout: ${out}\nstderr: ${err}`)), 20_000);
		const check = () => {
			if (/(it is not shown again|shown only when generated\))\n/.test(out)) {
				clearTimeout(timer);
				resolve();
			}
		};
		child.stdout.on("data", check);
		void exited.then((code) => {
			clearTimeout(timer);
			reject(new Error(`the service exited (${code}) before it started\nstdout: ${out}\nstderr: ${err}`));
		});
	});
	const url = /lifeguard serving on (http:\/\/\S+)/.exec(out)?.[1] as string;
	const token = /admin token: ([A-Za-z0-9_-]{20,})\n/.exec(out)?.[1];
	const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
		if (child.exitCode === null && child.signalCode === null && !child.killed) child.kill(signal);
		const code = await exited;
		if (options.dataDir === undefined && options.keepDataDir !== true) rmSync(dataDir, { recursive: true, force: true });
		return code;
	};
	const auth = () => ({ authorization: `Bearer ${token}` });
	return {
		url,
		token,
		dataDir,
		child,
		stdout: () => out,
		stderr: () => err,
		stop,
		auth,
		async request(method, path, body, headers) {
			const response = await fetch(`${url}${path}`, {
				method,
				headers: { ...auth(), ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
				...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
			});
			const text = await response.text();
			let parsed: unknown = text;
			try {
				parsed = text === "" ? undefined : JSON.parse(text);
			} catch {}
			return { status: response.status, body: parsed, headers: response.headers };
		},
	};
}
