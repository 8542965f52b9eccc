/** The local LLM upstream of test/llm/servers in a process of its own, for benchmarks: prints `upstream <origin>`. */
import { startLlmUpstream } from "../test/llm/servers/llm-upstream.ts";

const upstream = await startLlmUpstream({ record: false, scenario: { kind: "ok", chunks: 8 } });
console.log(`upstream ${upstream.origin}`);
process.on("SIGTERM", () => void upstream.close().then(() => process.exit(0)));
