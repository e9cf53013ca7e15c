// One SSH connection to the target: checked host key, retry until a deadline, exec/sftp/port forwarding.
import net from "node:net";
import { StringDecoder } from "node:string_decoder";
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from "ssh2";
import { OdapiError } from "../../common/errors";
import { remoteCommandLine } from "../../common/shell";
import { connectErrorOf, remoteCommandError } from "./errors";
import type { ExecResult, SshTarget } from "./target";

export type { ExecResult, SshTarget } from "./target";

import { parsePrivateKey } from "./keys";
import {
  decideHostKey,
  fingerprint,
  type HostKey,
  type HostKeyDecision,
  hostKeyAlgorithmsFor,
  hostKeyFromBlob,
  hostKeyMismatchError,
  knownHostName,
  knownHostsFor,
  parseHostKey,
  recordKnownHost,
} from "./known-hosts";

export { shellJoin } from "../../common/shell";

export interface ExecOptions {
  /** Run as root: prefixes `sudo -n --` unless the SSH user is root already. */
  sudo?: boolean;
  stdin?: string | Buffer;
  timeoutMs?: number;
  onOutput?: (chunk: string) => void;
  /** Allocate a pseudo-terminal: the remote command then gets SIGHUP when the channel closes (for endless
   * commands like `docker logs --follow`); stderr arrives merged into stdout, lines end in CRLF. */
  pty?: boolean;
}

export interface ConnectOptions {
  /** One attempt's limit, TCP connect through authentication (ssh2 `readyTimeout`). Default 20 s. */
  readyTimeoutMs?: number;
  /** How long, from now, to keep retrying refused/unreachable/timed-out attempts. Default 0: one attempt. */
  deadlineMs?: number;
  log?: (msg: string) => void;
  /** Keepalive probe period; a peer that misses `keepaliveCountMax` probes in a row is dead. Default 5 s × 3. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
}

export interface SshSession {
  readonly target: SshTarget;
  readonly client: Client;
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  run(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  sftp(): Promise<SFTPWrapper>;
  openAnother(): Promise<SshSession>;
  forwardPort(
    remotePort: number,
    remoteHost?: string,
  ): Promise<{ localPort: number; close(): Promise<void> }>;
  close(): Promise<void>;
}

/** Capped exponential backoff: 0.5 s, 1 s, 2 s, 4 s, 5 s, 5 s … */
export function backoffDelayMs(attempt: number, baseMs = 500, capMs = 5000): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
}

/** Connects, retrying transient failures with capped backoff until `deadlineMs` has passed. */
export async function connect(target: SshTarget, opts: ConnectOptions = {}): Promise<SshSession> {
  const key = parsePrivateKey(target.privateKey);
  const pinned = target.hostKey ? parseHostKey(target.hostKey) : undefined;
  const started = Date.now();
  const deadline = started + (opts.deadlineMs ?? 0);
  for (let attempt = 0; ; attempt++) {
    try {
      const { client, hostKey } = await connectOnce(target, key, pinned, opts);
      return new Session({ ...target, hostKey: `${hostKey.type} ${hostKey.base64}` }, target, client, opts);
    } catch (err) {
      const { retry, error } = connectErrorOf(err, target, opts.readyTimeoutMs ?? 20_000);
      const wait = backoffDelayMs(attempt);
      if (!retry || Date.now() + wait > deadline) {
        if (attempt > 0) {
          error.message += ` (gave up after ${attempt + 1} attempts over ${Math.round((Date.now() - started) / 1000)} s)`;
        }
        throw error;
      }
      opts.log?.(`${error.message}; retrying in ${(wait / 1000).toFixed(1)} s`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

function connectOnce(
  target: SshTarget,
  privateKey: string | Buffer,
  pinned: HostKey | undefined,
  opts: ConnectOptions,
): Promise<{ client: Client; hostKey: HostKey }> {
  const view = pinned ? undefined : knownHostsFor(target.knownHostsFile, target.host, target.port);
  const known = view?.entries ?? [];
  const expectedTypes = pinned ? [pinned.type] : known.filter((e) => !e.marker).map((e) => e.type);
  return new Promise((resolve, reject) => {
    const client = new Client();
    let rejection: OdapiError | undefined;
    let presented: HostKey | undefined;
    let decided: HostKeyDecision["action"] | undefined;
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      client.end();
      client.destroy();
      reject(rejection ?? err);
    };
    client.on("error", fail);
    client.on("close", () =>
      fail(Object.assign(new Error("Connection lost before handshake"), { level: "client-socket" })),
    );
    client.on("ready", () => {
      if (settled) return;
      settled = true;
      client.removeListener("error", fail);
      if (view && presented && decided === "record") {
        recordKnownHost(view.recordTo, target.host, target.port, presented);
        opts.log?.(
          `warning: first connection to ${knownHostName(target.host, target.port)}: trusting its ${presented.type} key ` +
            `${fingerprint(presented)} and recording it in ${view.recordTo}; pass --host-key to pin it instead`,
        );
      } else if (view && presented && decided === "accept" && view.source !== view.recordTo) {
        // A key trusted in a project's .odapi/known_hosts moves to the user's store, which then decides everywhere.
        recordKnownHost(view.recordTo, target.host, target.port, presented);
        opts.log?.(
          `recorded the host key of ${knownHostName(target.host, target.port)} from ${view.source} in ${view.recordTo}`,
        );
      }
      resolve({ client, hostKey: presented as HostKey });
    });
    const algorithms = hostKeyAlgorithmsFor(expectedTypes);
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      privateKey,
      // Only the key: ssh2 would first try "none", one more round trip before every connection.
      authHandler: ["publickey"],
      readyTimeout: opts.readyTimeoutMs ?? 20_000,
      keepaliveInterval: opts.keepaliveIntervalMs ?? 5000,
      keepaliveCountMax: opts.keepaliveCountMax ?? 3,
      // Runs during key exchange, before any authentication data is sent: a `false` ends the connection there.
      hostVerifier: (blob: Buffer) => {
        presented = hostKeyFromBlob(blob);
        const decision = decideHostKey(presented, pinned, known);
        if (decision.action === "reject") {
          rejection = hostKeyMismatchError(target.host, target.port, presented, decision, view?.source ?? "");
          return false;
        }
        decided = decision.action;
        return true;
      },
      ...(algorithms ? { algorithms: { serverHostKey: algorithms as never } } : {}),
    };
    try {
      client.connect(config);
      // Nagle + delayed ACKs stall each small handshake/request packet ~40 ms: 220 ms → 45 ms per connect on loopback.
      client.setNoDelay(true);
    } catch (err) {
      fail(err);
    }
  });
}

class Session implements SshSession {
  private closed = false;
  private lastError: Error | undefined;
  private readonly onLost = new Set<(err: OdapiError) => void>();

  constructor(
    readonly target: SshTarget,
    private readonly original: SshTarget,
    readonly client: Client,
    private readonly opts: ConnectOptions,
  ) {
    client.on("error", (err) => {
      this.lastError = err;
    });
    client.on("close", () => {
      this.closed = true;
      const why = this.lastError ? `: ${this.lastError.message}` : "";
      const err = new OdapiError(
        `the SSH connection to ${this.where()} was lost${why}`,
        "check the network and that the server is up, then rerun: finished steps are skipped",
        "unreachable",
      );
      for (const cb of this.onLost) cb(err);
      this.onLost.clear();
    });
  }

  private where(): string {
    return `${this.target.user}@${knownHostName(this.target.host, this.target.port)}`;
  }

  exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const command = remoteCommandLine(argv, { sudo: opts.sudo ?? false, user: this.target.user });
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(
          new OdapiError(
            `the SSH connection to ${this.where()} is closed`,
            "reconnect and retry",
            "unreachable",
          ),
        );
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (err: Error | undefined, result?: ExecResult) => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        this.onLost.delete(finish);
        if (err) reject(err);
        else resolve(result as ExecResult);
      };
      this.onLost.add(finish);
      this.client.exec(command, { pty: opts.pty ?? false }, (err, stream: ClientChannel) => {
        if (err) {
          finish(
            new OdapiError(
              `could not start a command on ${this.where()}: ${err.message}`,
              "the server may limit sessions per connection (MaxSessions); retry, or raise MaxSessions in sshd_config",
              "unreachable",
            ),
          );
          return;
        }
        const out = new StringDecoder("utf8");
        const errOut = new StringDecoder("utf8");
        let stdout = "";
        let stderr = "";
        let code = 255;
        if (opts.timeoutMs) {
          timer = setTimeout(() => {
            // Closing the channel closes the remote command's pipes; it gets SIGPIPE on its next write.
            stream.close();
            finish(
              new OdapiError(
                `\`${argv.join(" ").slice(0, 80)}\` on ${this.where()} did not finish within ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`,
                "check the server's load and network, then rerun",
                "timeout",
              ),
            );
          }, opts.timeoutMs);
        }
        // Both streams must be consumed: an ssh2 channel never emits `close` otherwise (design.md).
        stream.on("data", (d: Buffer) => {
          const s = out.write(d);
          stdout += s;
          if (s) opts.onOutput?.(s);
        });
        stream.stderr.on("data", (d: Buffer) => {
          const s = errOut.write(d);
          stderr += s;
          if (s) opts.onOutput?.(s);
        });
        stream.on("exit", (exitCode: number | null, signal?: string) => {
          if (typeof exitCode === "number") code = exitCode;
          else if (signal) {
            code = 128 + (SIGNALS[signal] ?? 0);
            stderr += `\n(killed by SIG${signal})`;
          }
        });
        stream.on("close", () => {
          stdout += out.end();
          stderr += errOut.end();
          finish(undefined, { code, stdout, stderr });
        });
        stream.end(opts.stdin ?? undefined);
      });
    });
  }

  async run(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.exec(argv, opts);
    if (result.code !== 0) throw remoteCommandError(argv, result, this.target);
    return result;
  }

  sftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => {
      this.client.sftp((err, sftp) => {
        if (err) {
          reject(
            new OdapiError(
              `could not open SFTP on ${this.where()}: ${err.message}`,
              "enable the sftp subsystem in the server's sshd_config (`Subsystem sftp internal-sftp`)",
              "remoteIo",
            ),
          );
        } else resolve(sftp);
      });
    });
  }

  openAnother(): Promise<SshSession> {
    // Pin the key this session verified, so the second connection cannot reach a different server.
    return connect({ ...this.original, hostKey: this.target.hostKey }, { ...this.opts, deadlineMs: 10_000 });
  }

  forwardPort(
    remotePort: number,
    remoteHost = "127.0.0.1",
  ): Promise<{ localPort: number; close(): Promise<void> }> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((sock) => {
      sockets.add(sock);
      sock.on("close", () => sockets.delete(sock));
      sock.on("error", () => sock.destroy());
      this.client.forwardOut("127.0.0.1", sock.remotePort ?? 0, remoteHost, remotePort, (err, stream) => {
        if (err) {
          sock.destroy();
          return;
        }
        stream.on("error", () => sock.destroy());
        sock.pipe(stream).pipe(sock);
        stream.on("close", () => sock.destroy());
        sock.on("close", () => stream.close());
      });
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const localPort = (server.address() as net.AddressInfo).port;
        resolve({
          localPort,
          close: () =>
            new Promise<void>((done) => {
              for (const s of sockets) s.destroy();
              server.close(() => done());
            }),
        });
      });
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.client.once("close", () => resolve());
      this.client.end();
      // A dead peer may never confirm: do not wait for it.
      setTimeout(() => {
        this.client.destroy();
        resolve();
      }, 2000).unref();
    });
  }
}

const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, KILL: 9, PIPE: 13, ALRM: 14, TERM: 15 };
