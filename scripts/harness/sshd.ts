// A real OpenSSH server for tests: 127.0.0.1, a free port, throwaway host and user keys in a temp dir.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { SshTarget } from "../../bootstrap/ssh/session";

export const SSHD_BINARY = "/usr/sbin/sshd";

export interface SshdOptions {
  /** Start sshd only after this many ms (the port is chosen up front); `ready` resolves once it accepts. */
  delayMs?: number;
  /** Extra sshd_config lines, e.g. ["MaxStartups 1"]. */
  extraConfig?: string[];
  /** Key type for the host key; default ed25519. */
  hostKeyType?: "ed25519" | "ecdsa" | "rsa";
  /** Listen on this port instead of a free one (e.g. to replace a stopped server with a new host key). */
  port?: number;
  /** Also accept each user's own ~/.ssh/authorized_keys (for tests that log in as a non-root user). */
  userAuthorizedKeys?: boolean;
  /** sshd LogLevel, default ERROR; VERBOSE logs "Accepted publickey" and "[preauth]" disconnects to `log()`. */
  logLevel?: "ERROR" | "INFO" | "VERBOSE" | "DEBUG";
}

export interface Sshd {
  host: "127.0.0.1";
  port: number;
  /** The login user: the user running the tests (root here). */
  user: string;
  /** Host public key as "ssh-ed25519 AAAA…" (no comment), what `--host-key` takes. */
  hostKey: string;
  /** Path of a host public key line file, and the private host key (to build a second server with it). */
  hostKeyPath: string;
  userKeyPath: string;
  userKey: string;
  /** A second user key that is NOT authorized (for refused-auth tests). */
  otherKeyPath: string;
  dir: string;
  /** A connection target for bootstrap/ssh with the host key pinned (no known_hosts file is read or written). */
  target(overrides?: Partial<SshTarget>): SshTarget;
  /** Resolves once sshd accepts connections and sends its banner. */
  ready: Promise<void>;
  /** sshd's stderr so far (started with -e), for debugging failed tests. */
  log(): string;
  /** Stops sshd (and the delayed start) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** sshd processes not stopped yet: one shared exit hook kills them if the test process exits without stop(). */
const running = new Set<ChildProcess>();
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once("exit", () => {
    for (const c of running) c.kill("SIGKILL");
  });
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function keygen(type: string, file: string): void {
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "odapi-test", "-f", file], {
    stdio: "ignore",
  });
  chmodSync(file, 0o600);
}

/** True once something on host:port sends an SSH banner. */
export function bannerSeen(port: number, timeoutMs: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let buf = "";
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      if (buf.includes("SSH-2.0")) done(true);
    });
    sock.on("error", () => done(false));
    sock.on("close", () => done(buf.includes("SSH-2.0")));
  });
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  if (!existsSync(SSHD_BINARY)) {
    throw new Error(`${SSHD_BINARY} is missing: run 'bash .ci/run' (installs openssh-server)`);
  }
  // sshd refuses to start without its privilege separation directory.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(path.join(os.tmpdir(), "odapi-sshd-"));
  const hostKeyType = opts.hostKeyType ?? "ed25519";
  const hostKeyPath = path.join(dir, `host_${hostKeyType}`);
  const userKeyPath = path.join(dir, "user_ed25519");
  const otherKeyPath = path.join(dir, "other_ed25519");
  keygen(hostKeyType, hostKeyPath);
  keygen("ed25519", userKeyPath);
  keygen("ed25519", otherKeyPath);
  const authorizedKeys = path.join(dir, "authorized_keys");
  writeFileSync(authorizedKeys, readFileSync(`${userKeyPath}.pub`), { mode: 0o600 });
  const hostKey = readFileSync(`${hostKeyPath}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  const user = os.userInfo().username;

  let child: ChildProcess | undefined;
  let stderr = "";
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  let port = opts.port ?? (await freePort());
  const configPath = path.join(dir, "sshd_config");
  const writeConfig = () => {
    const config = [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKeyPath}`,
      `PidFile ${path.join(dir, "sshd.pid")}`,
      // sshd reads these as the login user: a non-root user cannot read the temp file, only its own.
      `AuthorizedKeysFile ${authorizedKeys}${opts.userAuthorizedKeys ? " .ssh/authorized_keys" : ""}`,
      "PermitRootLogin yes",
      "StrictModes no",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "AllowTcpForwarding yes",
      "MaxSessions 64",
      "MaxStartups 64:30:128",
      `LogLevel ${opts.logLevel ?? "ERROR"}`,
      "Subsystem sftp internal-sftp",
      // sshd keeps the first value of a keyword, so extra lines cannot override the ones above.
      ...(opts.extraConfig ?? []),
    ];
    writeFileSync(configPath, `${config.join("\n")}\n`);
  };

  const launch = () => {
    if (stopped) return;
    child = spawn(SSHD_BINARY, ["-D", "-e", "-f", configPath], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr?.on("data", (d) => {
      stderr += d.toString();
    });
    const c = child;
    running.add(c);
    c.once("exit", () => running.delete(c));
    hookExit();
  };

  const waitAccepting = async (): Promise<void> => {
    const deadline = Date.now() + (opts.delayMs ?? 0) + 15_000;
    while (Date.now() < deadline) {
      if (stopped) throw new Error("sshd stopped before it was ready");
      if (child && child.exitCode !== null) throw new Error(`sshd exited early: ${stderr}`);
      if (child && (await bannerSeen(port, 1000))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`sshd did not accept on port ${port} within 15 s: ${stderr}`);
  };

  writeConfig();
  let ready: Promise<void>;
  if (opts.delayMs) {
    timer = setTimeout(launch, opts.delayMs);
    ready = waitAccepting();
    // A delayed start returns at once; callers await `ready` when they need it.
    ready.catch(() => undefined);
  } else {
    // The free port may be taken by another test process before sshd binds it: retry on a fresh one.
    for (let attempt = 1; ; attempt++) {
      launch();
      ready = waitAccepting();
      try {
        await ready;
        break;
      } catch (err) {
        const busy = /Address already in use|Cannot bind/i.test(stderr);
        if (!busy || opts.port || attempt >= 3) {
          rmSync(dir, { recursive: true, force: true });
          throw err;
        }
        stderr = "";
        port = await freePort();
        writeConfig();
      }
    }
  }

  return {
    host: "127.0.0.1",
    port,
    user,
    hostKey,
    hostKeyPath,
    userKeyPath,
    userKey: readFileSync(userKeyPath, "utf8"),
    otherKeyPath,
    dir,
    ready,
    target: (overrides = {}) => ({
      host: "127.0.0.1",
      port,
      user,
      privateKey: readFileSync(userKeyPath, "utf8"),
      hostKey,
      ...overrides,
    }),
    log: () => stderr,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (child) running.delete(child);
      if (timer) clearTimeout(timer);
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        await new Promise<void>((resolve) => {
          c.once("exit", () => resolve());
          c.kill("SIGTERM");
          setTimeout(() => c.kill("SIGKILL"), 3000).unref();
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
