/** Run by connection.test.ts in a child process: with allowExitOnIdle, idle connections must not keep it alive. */
import { createRedisClient } from "../../src/adapters/redis/index.ts";

const client = createRedisClient({ db: Number(process.env.TEST_DB), min: 2, allowExitOnIdle: true });
await client.start();
await client.get("exit-on-idle");
await client.withConnection((redis) => redis.ping());
console.log("idle");
