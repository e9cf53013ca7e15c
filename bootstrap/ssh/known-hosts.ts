// Host key checking like OpenSSH: a pinned key (--host-key) or trust on first use in the user's known_hosts.
import { createHash, createHmac } from "node:crypto";
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OdapiError } from "../../common/errors";
import { userConfigDir } from "../../common/paths";

export interface HostKey {
  type: string; // e.g. "ssh-ed25519"
  base64: string; // the SSH wire-format public key blob, base64
}

export interface KnownHostEntry extends HostKey {
  patterns: string; // first field as written: "host", "[host]:port", "h1,h2" or "|1|salt|hash"
  marker?: "@revoked" | "@cert-authority";
}

/** Where trust-on-first-use keys lived when they were per directory: still honoured (and migrated), never written. */
export const LEGACY_KNOWN_HOSTS = path.join(".odapi", "known_hosts");

/** The per-user store: $XDG_CONFIG_HOME/odapi/known_hosts, else ~/.config/odapi/known_hosts (XDG: relative = unset). */
export function userKnownHostsFile(env: { XDG_CONFIG_HOME?: string }, home: string): string {
  return path.join(userConfigDir(env, home), "known_hosts");
}

/** What decides a host's key: `entries` read from `source`; new (and migrated) keys go to `recordTo`. */
export interface KnownHostsView {
  entries: KnownHostEntry[];
  source: string;
  recordTo: string;
}

/**
 * An explicit file alone; otherwise the user store, or, when it knows nothing of this host, the legacy
 * `.odapi/known_hosts` of the current directory. Pure: `read(file)` gives that file's entries for the host.
 */
export function chooseKnownHosts(
  explicit: string | undefined,
  userFile: string,
  legacyFile: string,
  read: (file: string) => KnownHostEntry[],
): KnownHostsView {
  if (explicit) return { entries: read(explicit), source: explicit, recordTo: explicit };
  const own = read(userFile);
  if (own.length > 0) return { entries: own, source: userFile, recordTo: userFile };
  const legacy = read(legacyFile);
  return { entries: legacy, source: legacy.length > 0 ? legacyFile : userFile, recordTo: userFile };
}

/** The name OpenSSH writes for a host: plain for port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Parses `"ssh-ed25519 AAAA… [comment]"` (what `--host-key` takes and `*.pub` files hold). */
export function parseHostKey(text: string): HostKey {
  const [type, base64] = text.trim().split(/\s+/);
  const bad = (why: string) =>
    new OdapiError(
      `--host-key is not an SSH public key (${why}): ${JSON.stringify(text.slice(0, 60))}`,
      'pass the server\'s key as "<type> <base64>", e.g. the output of `ssh-keyscan -t ed25519 <host>` without the host name',
      "usage",
    );
  if (!type || !base64) throw bad("expected two fields");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw bad("the second field is not base64");
  const blobType = keyTypeOfBlob(Buffer.from(base64, "base64"));
  if (blobType !== type) throw bad(`the key data says ${blobType ?? "nothing readable"}, not ${type}`);
  return { type, base64 };
}

/** The key type string at the start of an SSH public key blob, or undefined when malformed. */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  const type = blob.subarray(4, 4 + len).toString("latin1");
  return /^[a-z0-9@.-]+$/i.test(type) ? type : undefined;
}

export function hostKeyFromBlob(blob: Buffer): HostKey {
  return { type: keyTypeOfBlob(blob) ?? "unknown", base64: blob.toString("base64") };
}

/** OpenSSH's fingerprint format: `SHA256:` + unpadded base64 of the blob's sha256. */
export function fingerprint(key: HostKey): string {
  const digest = createHash("sha256").update(Buffer.from(key.base64, "base64")).digest("base64");
  return `SHA256:${digest.replace(/=+$/, "")}`;
}

export function sameKey(a: HostKey, b: HostKey): boolean {
  return a.type === b.type && a.base64 === b.base64;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry["marker"];
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority") marker = fields.shift() as typeof marker;
    const [patterns, type, base64] = fields;
    if (!patterns || !type || !base64) continue;
    entries.push({ patterns, type, base64, ...(marker ? { marker } : {}) });
  }
  return entries;
}

/** Whether a known_hosts first field names this host (plain lists and OpenSSH's hashed `|1|salt|hash` form). */
export function patternMatches(patterns: string, host: string, port: number): boolean {
  const name = knownHostName(host, port);
  if (patterns.startsWith("|1|")) {
    const [, , salt, hash] = patterns.split("|");
    if (!salt || !hash) return false;
    const mac = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return mac === hash;
  }
  // Wildcards and negations are rare in project-local files; exact names are what we write.
  return patterns.split(",").includes(name);
}

export type HostKeyDecision =
  | { action: "accept"; reason: "pinned" | "known" }
  | { action: "record" } // trust on first use
  | { action: "reject"; expected: HostKey[]; reason: "pinned" | "known" | "revoked" };

/** The host key decision, as a pure function of what is pinned, what is recorded and what the server presented. */
export function decideHostKey(
  presented: HostKey,
  pinned: HostKey | undefined,
  known: KnownHostEntry[],
): HostKeyDecision {
  if (known.some((e) => e.marker === "@revoked" && sameKey(e, presented))) {
    return { action: "reject", expected: [], reason: "revoked" };
  }
  if (pinned) {
    return sameKey(pinned, presented)
      ? { action: "accept", reason: "pinned" }
      : { action: "reject", expected: [pinned], reason: "pinned" };
  }
  const plain = known.filter((e) => !e.marker);
  if (plain.length === 0) return { action: "record" };
  // Like OpenSSH, a recorded key of the same type must match; a new type is a change too (no silent downgrade).
  if (plain.some((e) => sameKey(e, presented))) return { action: "accept", reason: "known" };
  return { action: "reject", expected: plain, reason: "known" };
}

/** The error for a rejected host key: both fingerprints and how to fix it. Pure. */
export function hostKeyMismatchError(
  host: string,
  port: number,
  presented: HostKey,
  decision: Extract<HostKeyDecision, { action: "reject" }>,
  knownHostsFile: string,
): OdapiError {
  const where = knownHostName(host, port);
  const got = `${presented.type} ${fingerprint(presented)}`;
  if (decision.reason === "revoked") {
    return new OdapiError(
      `the host key of ${where} (${got}) is marked @revoked in ${knownHostsFile}`,
      "do not connect to this server; ask its administrator for a new host key",
      "hostKey",
    );
  }
  const expected = decision.expected.map((k) => `${k.type} ${fingerprint(k)}`).join(", ");
  const source = decision.reason === "pinned" ? "--host-key" : knownHostsFile;
  const remedy =
    decision.reason === "pinned"
      ? "check that --host-key is this server's key (e.g. from the instance's console output or `pulumi stack output`); if the server was rebuilt, pass its new key"
      : `if the server was rebuilt on purpose, delete the line for ${where} from ${knownHostsFile} (or pass --host-key with the new key) and retry; otherwise someone may be intercepting the connection`;
  return new OdapiError(
    `host key mismatch for ${where}: the server presented ${got} but ${source} expects ${expected}; nothing was sent`,
    remedy,
    "hostKey",
  );
}

export function knownHostsLine(host: string, port: number, key: HostKey): string {
  return `${knownHostName(host, port)} ${key.type} ${key.base64}`;
}

// ---- I/O ----

/** chooseKnownHosts on this machine: the process's XDG dir and home, `.odapi/known_hosts` under the cwd. */
export function knownHostsFor(explicit: string | undefined, host: string, port: number): KnownHostsView {
  const home = process.env.HOME || os.homedir();
  return chooseKnownHosts(
    explicit && path.resolve(explicit),
    userKnownHostsFile(process.env, home),
    path.resolve(LEGACY_KNOWN_HOSTS),
    (file) => readKnownHostsFor(file, host, port),
  );
}

export function readKnownHostsFor(file: string, host: string, port: number): KnownHostEntry[] {
  if (!existsSync(file)) return [];
  return parseKnownHosts(readFileSync(file, "utf8")).filter((e) => patternMatches(e.patterns, host, port));
}

/** Appends one OpenSSH-format line, creating the file (0600) and its directory when missing. */
export function recordKnownHost(file: string, host: string, port: number, key: HostKey): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const fresh = !existsSync(file);
  const prefix =
    !fresh && !readFileSync(file, "utf8").endsWith("\n") && readFileSync(file).length > 0 ? "\n" : "";
  appendFileSync(file, `${prefix}${knownHostsLine(host, port, key)}\n`, { mode: 0o600 });
  if (fresh) chmodSync(file, 0o600);
}

/** The signature algorithms a key of this type can present itself with (RSA keys sign with rsa-sha2-* too). */
export function algorithmsForKeyType(type: string): string[] {
  return type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type];
}

/** Server host key algorithms with the expected key's type first, so the server presents the key we can check. */
export function hostKeyAlgorithmsFor(types: string[]): string[] | undefined {
  const defaults = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
  ];
  if (types.length === 0) return undefined;
  const preferred = types.flatMap(algorithmsForKeyType);
  return [...new Set([...preferred.filter((t) => defaults.includes(t)), ...defaults])];
}
