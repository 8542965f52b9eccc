/**
 * `npm start`: lifeguard's main job, the service (`lifeguard serve`). Without arguments it runs on
 * the embedded default (an SQLite database in .lifeguard/ and a demo upstream): no setup. Flags
 * are serve's: `npm start -- --config lifeguard.yaml --port 8080`.
 */
import { main } from "./cli/main.ts";

await main(["serve", ...process.argv.slice(2)]);
