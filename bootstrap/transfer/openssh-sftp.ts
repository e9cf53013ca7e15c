// The OpenSSH `sftp` client as a data path: one child process, one SSH connection that pins the host key the
// ssh2 connection verified, files sent in batch mode. Its encryption and SSH framing run in C on another core.
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseHostKey } from "../ssh/known-hosts";
import type { SshTarget } from "../ssh/session";
import { createKeyDir, removeKeyDir } from "./key-dir";
import {
  classifyOpenSshFailure,
  echoedCommand,
  type OpenSshFailure,
  opensshSftpArgv,
  pinnedKnownHosts,
  putLine,
  READY_ANSWER,
  READY_COMMAND,
} from "./openssh-batch";

export interface OpenSshStartOptions {
  /** The `sftp` executable (default: `sftp` on PATH). */
  binary?: string;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
}

export interface OpenSshItem {
  localPath: string;
  remotePath: string;
  size: number;
}

/** A failed `sftp` run, classified (see classifyOpenSshFailure). */
export class OpenSshError extends Error {
  constructor(readonly failure: OpenSshFailure) {
    super(failure.message);
  }
}

export class OpenSshSftp {
  /** Settles once the connection is authenticated (rejects with the reason if it never gets there). */
  readonly ready: Promise<void>;
  private readonly proc: ChildProcess;
  private readonly dir: string;
  private stderr = "";
  private partial = "";
  private readonly lineListeners = new Set<(line: string) => void>();
  private readonly exited: Promise<number | null>;

  /**
   * Starts `sftp` with the target's private key and its verified host key, each in a 0600 file in a fresh 0700
   * temp dir (see key-dir.ts); the key file is deleted once sftp has logged in, the dir by close() or any ending.
   * `target.hostKey` must be the key the ssh2 session verified.
   */
  constructor(target: SshTarget, opts: OpenSshStartOptions = {}) {
    if (!target.hostKey) throw new Error("OpenSshSftp needs the verified host key");
    this.dir = createKeyDir();
    const keyFile = path.join(this.dir, "key");
    const knownHostsFile = path.join(this.dir, "known_hosts");
    const key = Buffer.isBuffer(target.privateKey) ? target.privateKey : Buffer.from(target.privateKey);
    writeFileSync(keyFile, key.toString().endsWith("\n") ? key : Buffer.concat([key, Buffer.from("\n")]), {
      mode: 0o600,
    });
    const hostKey = parseHostKey(target.hostKey);
    writeFileSync(knownHostsFile, pinnedKnownHosts(target.host, target.port, hostKey), { mode: 0o600 });
    const argv = opensshSftpArgv({
      host: target.host,
      port: target.port,
      user: target.user,
      keyFile,
      knownHostsFile,
      hostKeyType: hostKey.type,
      connectTimeoutS: (opts.connectTimeoutMs ?? 20_000) / 1000,
      keepaliveIntervalS: (opts.keepaliveIntervalMs ?? 5000) / 1000,
      keepaliveCountMax: opts.keepaliveCountMax ?? 3,
    });
    this.proc = spawn(opts.binary ?? "sftp", argv, { stdio: ["pipe", "pipe", "pipe"] });
    this.exited = new Promise((resolve) => {
      this.proc.once("error", () => resolve(null));
      this.proc.once("close", (code) => resolve(code));
    });
    const spawnError = new Promise<Error>((resolve) => this.proc.once("error", resolve));
    this.proc.stdin?.on("error", () => undefined); // EPIPE when sftp is gone: its exit tells what happened
    this.proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
      this.stderr += d;
    });
    this.proc.stdout?.setEncoding("utf8").on("data", (d: string) => this.onStdout(d));
    this.proc.stdin?.write(READY_COMMAND);
    this.ready = new Promise<void>((resolve, reject) => {
      const onLine = (line: string) => {
        if (!line.startsWith(READY_ANSWER)) return;
        this.lineListeners.delete(onLine);
        resolve();
      };
      this.lineListeners.add(onLine);
      void Promise.race([spawnError, this.exited.then(() => undefined)]).then((err) => {
        this.lineListeners.delete(onLine);
        reject(
          err
            ? new Error(
                (err as NodeJS.ErrnoException).code === "ENOENT"
                  ? `the OpenSSH sftp client (${opts.binary ?? "sftp"}) is not installed`
                  : `cannot start ${opts.binary ?? "sftp"}: ${err.message}`,
              )
            : new Error(this.stderrText() || "sftp exited before the connection was ready"),
        );
      });
    });
    // ssh reads the identity only to authenticate: once logged in, the copy has no use left.
    this.ready.then(
      () => rmSync(keyFile, { force: true }),
      () => undefined,
    );
  }

  /** `ready`, or a rejection once `ms` pass first (a client stuck in its handshake is then not waited for). */
  readyWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not connected within ${ms / 1000} s`)), ms);
    });
    return Promise.race([this.ready, late]).finally(() => clearTimeout(timer));
  }

  private onStdout(data: string): void {
    const lines = (this.partial + data).split("\n");
    this.partial = lines.pop() ?? "";
    for (const line of lines) for (const l of [...this.lineListeners]) l(line);
  }

  private stderrText(): string {
    return this.stderr
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean)
      .join("; ");
  }

  /**
   * Sends the items in order (each `put` creates or truncates its remote file). `onDone(i)` fires as item i is
   * complete, `onStart(i)` as it begins. Rejects with an OpenSshError when sftp fails; kill() stops it.
   */
  async send(
    items: readonly OpenSshItem[],
    hooks: { onStart(i: number): void; onDone(i: number): void },
  ): Promise<void> {
    await this.ready;
    let current = -1;
    const onLine = (line: string) => {
      const cmd = echoedCommand(line);
      if (cmd === undefined) return;
      if (current >= 0) hooks.onDone(current);
      current++;
      if (current < items.length) hooks.onStart(current);
    };
    this.lineListeners.add(onLine);
    try {
      // The trailing pwd's echo marks the last put as finished.
      const batch = `${items.map((it) => putLine(it.localPath, it.remotePath)).join("")}${READY_COMMAND}`;
      this.proc.stdin?.end(batch);
      const code = await this.exited;
      if (code !== 0) throw new OpenSshError(classifyOpenSshFailure(this.stderr, code));
      if (current < items.length) {
        throw new OpenSshError({ kind: "other", message: "sftp ended before every file was sent" });
      }
    } finally {
      this.lineListeners.delete(onLine);
    }
  }

  /** Stops sftp at once (abort, or the other data path failed); what it wrote stays as staged data to resume. */
  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGTERM");
  }

  /** Stops the process if it still runs (e.g. started early but not needed) and removes the temp key and known_hosts. */
  async close(): Promise<void> {
    this.kill();
    await this.exited;
    removeKeyDir(this.dir);
  }
}
