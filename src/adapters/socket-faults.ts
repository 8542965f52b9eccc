/** Moved to the adapter kit (kit/socket-faults.ts); this path stays while adapters written against it are merged. */
export { isSocketFaultCode, SOCKET_FAULT_CODES } from "./kit/socket-faults.ts";
