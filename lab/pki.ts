// Throwaway PKI for tests: a CA like mkcert's root, and leaf certificates it
// signs. Made with the openssl CLI because Node's crypto cannot issue X.509.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface KeyPair {
    certFile: string;
    keyFile: string;
    certPem: string;
}

/** The directories made here hold private keys: remove them when the process ends. */
const madeDirs = new Set<string>();
process.once("exit", () => madeDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function openssl(args: string[], cwd: string): void {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A self-signed CA in a fresh directory. */
export function makeCa(commonName: string, dir = mkdtempSync(join(tmpdir(), "platform-auth-pki-"))): KeyPair & { dir: string } {
    madeDirs.add(dir);
    openssl(
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", `/CN=${commonName}`,
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-keyout", "ca.key", "-out", "ca.pem"],
        dir,
    );
    return { dir, certFile: join(dir, "ca.pem"), keyFile: join(dir, "ca.key"), certPem: readFileSync(join(dir, "ca.pem"), "utf8") };
}

/** A leaf signed by `ca`; `sans` like "DNS:dex.platform.lan,IP:127.0.0.1"; `subject` like "/CN=admin/O=system:masters". */
export function makeLeaf(ca: KeyPair & { dir: string }, name: string, subject: string, sans?: string): KeyPair {
    const ext = join(ca.dir, `${name}.ext`);
    writeFileSync(ext, [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        `extendedKeyUsage=${sans ? "serverAuth,clientAuth" : "clientAuth"}`,
        ...(sans ? [`subjectAltName=${sans}`] : []),
    ].join("\n"));
    openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject, "-keyout", `${name}.key`, "-out", `${name}.csr`], ca.dir);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", `${name}.pem`], ca.dir);
    return { certFile: join(ca.dir, `${name}.pem`), keyFile: join(ca.dir, `${name}.key`), certPem: readFileSync(join(ca.dir, `${name}.pem`), "utf8") };
}
