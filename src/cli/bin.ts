#!/usr/bin/env node
/** The `lifeguard` executable (package.json "bin"). */
import { main } from "./main.ts";

await main();
