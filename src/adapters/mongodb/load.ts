/** The `mongodb` driver, loaded on first use through the kit's optional-driver loader (DRIVER_MISSING when it is not installed). */
import type * as Mongo from "mongodb";
import { optionalDriver } from "../kit/optional-driver.ts";

export type MongoModule = typeof Mongo;

export const loadMongo: () => Promise<MongoModule> = optionalDriver(() => import("mongodb"), "mongodb", "mongodb");
