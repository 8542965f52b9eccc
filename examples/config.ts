/**
 * One YAML file with a production section, environment variables over it, the effective value
 * and source of every key (secrets masked), a config error listing every problem, a client built
 * into a manager, and the pool-size calculator.
 * Run: npx node examples/config.ts
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPools, explain, formatExplanation, loadConfig, recommendPoolSize } from "../src/config/index.ts";

const dir = mkdtempSync(join(tmpdir(), "lifeguard-example-"));
const file = join(dir, "lifeguard.yaml");
writeFileSync(
	file,
	`defaults:
  sqlite:
    max: 4
pools:
  local:
    kind: sqlite
    filename: ${join(dir, "example.db")}
  cache:
    kind: redis
    url: redis://:\${REDIS_PASSWORD:-not-set}@127.0.0.1:6379
production:
  pools:
    local:
      max: 8
`,
);

const env = { NODE_ENV: "production", REDIS_PASSWORD: "example-secret", CONNECTION_POOL_DB_MIN: "1", LIFEGUARD_POOLS__CACHE__MAX: "3" };
const config = loadConfig({ file, env });
console.log(formatExplanation(explain(config).filter((s) => !/Timeout|Lifetime|AfterIdle/.test(s.path))));

try {
	loadConfig({ yaml: "pools:\n  orders:\n    kind: postgress\n  cache:\n    kind: redis\n    maxx: 5\n", env: { CONNECTION_POOL_DB_MAX: "lots" } });
} catch (error) {
	console.log(`\n${(error as Error).message}`);
}

// The SQLite pool built through its adapter into a manager (the Redis one would connect on first use).
const { cache: _cache, ...local } = config.pools;
const manager = await createPools({ ...config, pools: local }, { start: true });
console.log("\nbuilt:", Object.keys(manager.stats()).join(", "));
await manager.close();

console.log("\n", recommendPoolSize({ arrivalRatePerSecond: 300, holdTimeMs: 20 }).explanation);
rmSync(dir, { recursive: true, force: true });
