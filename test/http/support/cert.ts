/**
 * A self-signed certificate for localhost and 127.0.0.1, made with `openssl` for the TLS and
 * HTTP/2 tests and benchmarks; the client trusts it through `tls.ca`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SelfSignedCert {
	key: string;
	cert: string;
}

let made: SelfSignedCert | undefined;

export function selfSignedCert(): SelfSignedCert {
	if (made !== undefined) return made;
	const dir = mkdtempSync(join(tmpdir(), "lifeguard-http-cert-"));
	try {
		execFileSync(
			"openssl",
			[
				"req",
				"-x509",
				"-newkey",
				"ec",
				"-pkeyopt",
				"ec_paramgen_curve:prime256v1",
				"-nodes",
				"-keyout",
				join(dir, "key.pem"),
				"-out",
				join(dir, "cert.pem"),
				"-days",
				"2",
				"-subj",
				"/CN=localhost",
				"-addext",
				"subjectAltName=DNS:localhost,IP:127.0.0.1",
			],
			{ stdio: "ignore" },
		);
		made = { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
		return made;
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}
