/** `@google-cloud/firestore`, imported on first use so that users of other adapters never need it. */
import type * as FirestoreModule from "@google-cloud/firestore";
import { importDriver } from "../sql/errors.ts";

export type FirestoreDriver = typeof FirestoreModule;

let loading: Promise<FirestoreDriver> | undefined;

/** The driver, loaded once; DRIVER_MISSING when it is not installed. */
export function loadFirestore(): Promise<FirestoreDriver> {
	loading ??= importDriver(() => import("@google-cloud/firestore"), "@google-cloud/firestore", "firestore").catch((error: unknown) => {
		loading = undefined;
		throw error;
	});
	return loading;
}
