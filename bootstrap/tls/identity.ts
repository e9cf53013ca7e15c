// The gateway's TLS identity for `odapi deploy`: the user's own certificate and key (--tls-cert/--tls-key), checked
// before anything is uploaded, or a private CA and server certificate made here with openssl and kept per user.
import { spawnSync } from "node:child_process";
import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { OdapiError } from "../../common/errors";
import { readFlagFile } from "../../common/files";
import { userConfigDir } from "../../common/paths";
import type { TlsIdentity } from "../../serving/types";
import {
  caCertArgv,
  genKeyArgv,
  RENEW_WITHIN_DAYS,
  serverCsrArgv,
  serverExtensions,
  signServerArgv,
} from "./openssl-argv";

const DAY_MS = 24 * 3600 * 1000;

function readPem(file: string, flag: string): string {
  return readFlagFile(flag, file, `pass the PEM file's path to ${flag}`);
}

/** Why a certificate/key pair cannot serve `host` now, or undefined when it can. Pure apart from the clock. */
export function tlsIdentityProblem(
  id: TlsIdentity,
  host: string | undefined,
  now = Date.now(),
): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(id.certPem);
  } catch {
    return "the certificate file holds no PEM certificate";
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(id.keyPem);
  } catch {
    return "the key file holds no PEM private key (an encrypted key is not supported: the gateway starts unattended)";
  }
  if (!cert.checkPrivateKey(key)) return "the private key does not belong to the certificate";
  if (Date.parse(cert.validTo) <= now) return `the certificate expired on ${cert.validTo}`;
  if (Date.parse(cert.validFrom) > now) return `the certificate is not valid before ${cert.validFrom}`;
  if (host !== undefined && !cert.checkIP(host) && !cert.checkHost(host))
    return `the certificate is not for ${host} (its names: ${cert.subjectAltName ?? cert.subject})`;
  return undefined;
}

/** --tls-cert/--tls-key as given: read and checked against the deploy's host. */
export function readTlsIdentity(certFile: string, keyFile: string, host: string): TlsIdentity {
  const id = { certPem: readPem(certFile, "--tls-cert"), keyPem: readPem(keyFile, "--tls-key") };
  const problem = tlsIdentityProblem(id, host);
  if (problem) {
    throw new OdapiError(
      `--tls-cert ${certFile} / --tls-key ${keyFile}: ${problem}`,
      `pass a PEM certificate for ${host} (leaf first, then its chain) and its unencrypted PEM key, or leave both out and odapi makes a private CA for ${host}`,
      "config",
    );
  }
  return id;
}

/** Where the generated CA and certificate for one host are kept: per user, like the known_hosts store. */
export function generatedTlsDir(
  host: string,
  env: NodeJS.ProcessEnv = process.env,
  home = os.homedir(),
): string {
  // Host names and addresses only hold [A-Za-z0-9.:-]; anything else would be refused by the deploy before this.
  return path.join(userConfigDir(env, home), "tls", host.replace(/[^A-Za-z0-9.-]/g, "_"));
}

export const GENERATED_FILES = {
  caCert: "ca.crt",
  caKey: "ca.key",
  cert: "server.crt",
  key: "server.key",
} as const;

function openssl(argv: string[], cwd: string): string {
  const r = spawnSync("openssl", argv, { cwd, encoding: "utf8", timeout: 30_000 });
  if (r.error) {
    throw new OdapiError(
      `cannot run openssl to make the gateway's certificate: ${r.error.message}`,
      "install openssl (apt-get install openssl), or pass your own --tls-cert and --tls-key",
      "missingTool",
      { cause: r.error },
    );
  }
  if (r.status !== 0) {
    throw new OdapiError(
      `openssl ${argv[0]} failed: ${r.stderr.trim().split("\n").slice(-2).join(" ")}`,
      "pass your own --tls-cert and --tls-key, or install OpenSSL 1.1.1 or newer",
      "failure",
    );
  }
  return r.stdout;
}

export interface GeneratedTls {
  identity: TlsIdentity;
  /** The CA certificate clients pass as --ca-cert (mode 0644). */
  caFile: string;
  /** True when this run made or re-issued something (false: the stored certificate was reused). */
  issued: boolean;
}

/**
 * A private CA and a server certificate for `host`, kept in `dir`: reused while valid for RENEW_WITHIN_DAYS more,
 * re-issued under the same CA after that (clients keep their CA file), a new CA only when the CA itself is unusable.
 */
export function ensureGeneratedTls(host: string, dir = generatedTlsDir(host)): GeneratedTls {
  const file = (name: keyof typeof GENERATED_FILES) => path.join(dir, GENERATED_FILES[name]);
  const soon = Date.now() + RENEW_WITHIN_DAYS * DAY_MS;
  const stored = (cert: string, key: string): TlsIdentity | undefined =>
    existsSync(cert) && existsSync(key)
      ? { certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8") }
      : undefined;
  const server = stored(file("cert"), file("key"));
  if (server && tlsIdentityProblem(server, host, soon) === undefined) {
    return { identity: server, caFile: file("caCert"), issued: false };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const work = mkdtempSync(path.join(dir, ".issue-"));
  try {
    const write = (name: string, text: string, mode: number) => {
      writeFileSync(path.join(work, name), text, { mode });
      chmodSync(path.join(work, name), mode);
    };
    let ca = stored(file("caCert"), file("caKey"));
    if (!ca || tlsIdentityProblem(ca, undefined, soon) !== undefined) {
      write("ca.key", openssl(genKeyArgv(), work), 0o600);
      write("ca.crt", openssl(caCertArgv("ca.key", host), work), 0o644);
      ca = {
        certPem: readFileSync(path.join(work, "ca.crt"), "utf8"),
        keyPem: readFileSync(path.join(work, "ca.key"), "utf8"),
      };
    } else {
      write("ca.key", ca.keyPem, 0o600);
      write("ca.crt", ca.certPem, 0o644);
    }
    write("server.key", openssl(genKeyArgv(), work), 0o600);
    write("server.csr", openssl(serverCsrArgv("server.key", host), work), 0o600);
    write("server.ext", serverExtensions(host), 0o600);
    const leaf = openssl(
      signServerArgv({
        csrFile: "server.csr",
        caCertFile: "ca.crt",
        caKeyFile: "ca.key",
        extFile: "server.ext",
        serialHex: randomBytes(16).toString("hex"),
      }),
      work,
    );
    const identity = {
      certPem: leaf + ca.certPem,
      keyPem: readFileSync(path.join(work, "server.key"), "utf8"),
    };
    // Each file appears whole: written in the work dir (same file system) with its final mode, then renamed.
    const place = (name: keyof typeof GENERATED_FILES, text: string, mode: number) => {
      write(`${name}.final`, text, mode);
      renameSync(path.join(work, `${name}.final`), file(name));
    };
    place("caKey", ca.keyPem, 0o600);
    place("caCert", ca.certPem, 0o644);
    place("key", identity.keyPem, 0o600);
    place("cert", identity.certPem, 0o644);
    return { identity, caFile: file("caCert"), issued: true };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
