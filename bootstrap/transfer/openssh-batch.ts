// The OpenSSH `sftp -b -` data path, its pure parts: the argv (host key pinned, our key only, AES-GCM first),
// which files it may carry, the batch lines, and what its output and errors mean.
import { algorithmsForKeyType, type HostKey, knownHostsLine } from "../ssh/known-hosts";
import { KiB } from "./ranges";

/**
 * Which path carries whole-file sends: "openssh" = the system `sftp` client (C: encryption and SSH framing off
 * node's thread), "ssh2" = node's SFTP channels, "auto" = openssh when the client is installed, accepts the
 * connection and one channel is enough (low round trip), else ssh2. Ranges (resumes) and in-memory files
 * always go over ssh2.
 */
export type Transport = "auto" | "openssh" | "ssh2";
export const TRANSPORTS: readonly Transport[] = ["auto", "openssh", "ssh2"];

/** One SFTP write request of the OpenSSH client (its own upper bound is 256 KiB including the header). */
export const OPENSSH_WRITE_BYTES = 128 * KiB;
/** Requests in flight: 64 × 128 KiB is more than one OpenSSH channel's 2 MiB window, so the window is the limit. */
export const OPENSSH_REQUESTS = 64;

/**
 * Ciphers in order of preference: AES-GCM first (AES-NI on both ends; OpenSSH's own default, chacha20-poly1305,
 * costs sshd about twice the CPU), the rest so that any server still agrees on one.
 */
export const OPENSSH_CIPHERS = [
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "chacha20-poly1305@openssh.com",
  "aes128-ctr",
  "aes256-ctr",
];

/**
 * Key exchange: curve25519 first, the one the ssh2 session itself uses, ahead of the client's own list (`^`).
 * OpenSSH 9's first choice, the sntrup761x25519 hybrid, made the data connection's login take 0.25 s → 0.64 s
 * on this loaded 2-core host (6 logins each) while the same deploy's control connection cannot negotiate it.
 */
export const OPENSSH_KEX_FIRST = ["curve25519-sha256", "curve25519-sha256@libssh.org"];

export interface OpenSshArgvInput {
  host: string;
  port: number;
  user: string;
  keyFile: string;
  /** A known_hosts file holding only the host key the ssh2 connection verified. */
  knownHostsFile: string;
  hostKeyType: string;
  connectTimeoutS: number;
  keepaliveIntervalS: number;
  keepaliveCountMax: number;
}

/**
 * `sftp` arguments for a batch read from stdin. `-F none` ignores ~/.ssh/config and /etc/ssh/ssh_config (the ssh2
 * connection does not read them either, so both reach the same host the same way); each option is given once
 * (OpenSSH keeps the first value it sees). The server must present exactly the key already verified.
 */
export function opensshSftpArgv(i: OpenSshArgvInput): string[] {
  const options: Record<string, string> = {
    User: i.user,
    IdentityFile: i.keyFile,
    IdentitiesOnly: "yes",
    IdentityAgent: "none",
    PubkeyAuthentication: "yes",
    PasswordAuthentication: "no",
    KbdInteractiveAuthentication: "no",
    BatchMode: "yes",
    StrictHostKeyChecking: "yes",
    UserKnownHostsFile: i.knownHostsFile,
    GlobalKnownHostsFile: "none",
    HostKeyAlgorithms: algorithmsForKeyType(i.hostKeyType).join(","),
    UpdateHostKeys: "no",
    CheckHostIP: "no",
    ConnectTimeout: String(Math.max(1, Math.round(i.connectTimeoutS))),
    ServerAliveInterval: String(Math.max(1, Math.round(i.keepaliveIntervalS))),
    ServerAliveCountMax: String(i.keepaliveCountMax),
    Ciphers: OPENSSH_CIPHERS.join(","),
    KexAlgorithms: `^${OPENSSH_KEX_FIRST.join(",")}`,
    Compression: "no",
    ControlMaster: "no",
    ControlPath: "none",
    ForwardAgent: "no",
    LogLevel: "ERROR",
  };
  return [
    "-F",
    "none",
    "-b",
    "-",
    "-B",
    String(OPENSSH_WRITE_BYTES),
    "-R",
    String(OPENSSH_REQUESTS),
    "-P",
    String(i.port),
    ...Object.entries(options).flatMap(([k, v]) => ["-o", `${k}=${v}`]),
    // An IPv6 literal needs brackets here; the user is given with -o User so no '@' parsing is involved.
    i.host.includes(":") ? `[${i.host}]` : i.host,
  ];
}

/** The one-line known_hosts file for the verified key. */
export function pinnedKnownHosts(host: string, port: number, key: HostKey): string {
  return `${knownHostsLine(host, port, key)}\n`;
}

/**
 * Paths the batch carries without any quoting: absolute, and only characters that sftp's command parser and its
 * local glob treat literally. Anything else (spaces, quotes, `*?[]`, backslashes, non-ASCII) goes over ssh2.
 */
export function batchSafePath(p: string): boolean {
  return p.startsWith("/") && /^[A-Za-z0-9._/+=,@%:~-]+$/.test(p);
}

/** `put` with a local absolute path; the remote file is created or truncated (whole-file sends only). */
export function putLine(localPath: string, remotePath: string): string {
  if (!batchSafePath(localPath) || !batchSafePath(remotePath)) {
    throw new Error(`not a batch-safe path pair: ${localPath} → ${remotePath}`);
  }
  return `put ${localPath} ${remotePath}\n`;
}

/** `pwd` answers with this once the connection is up and authenticated. */
export const READY_COMMAND = "pwd\n";
export const READY_ANSWER = "Remote working directory: ";

/** In batch mode sftp echoes each command as it starts it: the previous command has then finished. */
export function echoedCommand(line: string): string | undefined {
  return line.startsWith("sftp> ") ? line.slice(6) : undefined;
}

/** What a failed `sftp` run means, from its stderr and exit code. */
export type OpenSshFailure =
  | { kind: "lost"; message: string }
  | { kind: "sftp"; op: "open" | "write"; remotePath: string; code: number | undefined; message: string }
  | { kind: "other"; message: string };

/** SFTP status texts (OpenSSH's fx2txt) and their codes. */
const STATUS_CODES: Record<string, number> = {
  "No such file or directory": 2,
  "Permission denied": 3,
  Failure: 4,
  "Bad message": 5,
  "No connection": 6,
  "Connection lost": 7,
  "Operation unsupported": 8,
};

const LOST_PATTERNS =
  /Connection (closed|reset|lost|timed out)|Broken pipe|Timeout, server .* not responding|client_loop: send disconnect|Read from remote host/i;

export function classifyOpenSshFailure(stderr: string, code: number | null): OpenSshFailure {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  const message = lines.join("; ") || `sftp exited with code ${code}`;
  for (const l of lines) {
    const m = /^(dest open|write remote) "(.*)": (.+)$/.exec(l);
    if (m) {
      const code = STATUS_CODES[m[3] as string];
      if (code === 6 || code === 7) return { kind: "lost", message };
      return {
        kind: "sftp",
        op: m[1] === "dest open" ? "open" : "write",
        remotePath: m[2] as string,
        code,
        message: l,
      };
    }
  }
  if (LOST_PATTERNS.test(stderr) || code === 255) return { kind: "lost", message };
  return { kind: "other", message };
}
