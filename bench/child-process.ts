/** Runs a benchmark's server in its own process (so it does not share the load generator's event loop) and waits for the line that says where it listens. */
import { type ChildProcess, spawn } from "node:child_process";

export interface Child {
	readonly match: RegExpExecArray;
	readonly child: ChildProcess;
	stop(): Promise<void>;
}

export async function startChild(args: string[], ready: RegExp, env?: NodeJS.ProcessEnv): Promise<Child> {
	const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
	let out = "";
	const match = await new Promise<RegExpExecArray>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`${args.join(" ")} did not start: ${out}`)), 30_000);
		const onData = (chunk: Buffer) => {
			out += chunk.toString("utf8");
			const m = ready.exec(out);
			if (m !== null) {
				clearTimeout(timer);
				resolve(m);
			}
		};
		child.stdout.on("data", onData);
		child.stderr.on("data", onData);
		child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited (${code}): ${out}`)));
	});
	child.removeAllListeners("exit");
	return {
		match,
		child,
		stop: async () => {
			if (child.exitCode !== null) return;
			const exited = new Promise((resolve) => child.once("exit", resolve));
			child.kill("SIGTERM");
			await exited;
		},
	};
}
