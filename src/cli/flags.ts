/** Command-line flags through node:util's parseArgs, with its errors turned into usage errors. */
import { parseArgs } from "node:util";
import { UsageError } from "./exit-codes.ts";

export interface Flags<K extends string> {
	values: Partial<Record<K, string | boolean>>;
	positionals: string[];
	help: boolean;
}

export function parseFlags<K extends string>(args: string[], spec: Record<K, "string" | "boolean">, positionals = 0): Flags<K> {
	const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
	for (const [name, type] of Object.entries(spec) as [string, "string" | "boolean"][]) options[name] = { type };
	let parsed: ReturnType<typeof parseArgs>;
	try {
		parsed = parseArgs({ args, options, allowPositionals: positionals > 0, strict: true });
	} catch (error) {
		throw new UsageError((error as Error).message);
	}
	if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument: ${parsed.positionals[positionals]}`);
	return { values: parsed.values as Flags<K>["values"], positionals: parsed.positionals, help: parsed.values.help === true };
}
