/** `@google-cloud/firestore`, loaded on first use through the kit's optional-driver loader (DRIVER_MISSING when it is not installed). */
import type * as FirestoreModule from "@google-cloud/firestore";
import { optionalDriver } from "../kit/optional-driver.ts";

export type FirestoreDriver = typeof FirestoreModule;

export const loadFirestore: () => Promise<FirestoreDriver> = optionalDriver(() => import("@google-cloud/firestore"), "@google-cloud/firestore", "firestore");
