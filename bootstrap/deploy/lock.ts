// One deploy at a time per host + remote dir: a `flock` held by a remote bash whose life is tied to our SSH channel.
//
// Why not a lock directory: it outlives a crashed deploy and needs a stale-lock rule. The flock is held by a
// process that exits when its channel's stdin ends (we close it, our process dies, the TCP connection drops) or
// when our heartbeat stops for `idleSeconds` (a dead network path that never delivers FIN). No stale locks.
import os from "node:os";
import type { ClientChannel } from "ssh2";
import { OdapiError } from "../../common/errors";
import { remoteCommandLine } from "../../common/shell";
import { remoteCommandError } from "../ssh/errors";
import type { SshSession } from "../ssh/session";

export const LOCK_ACQUIRED = "odapi-lock-acquired";
export const LOCK_HELD = "odapi-lock-held:";
export const LOCK_BUSY_EXIT = 75; // EX_TEMPFAIL

export interface LockOptions {
  /** Who we are, as shown to a second deploy; default `user@hostname pid N since <ISO time>`. */
  holder?: string;
  /** The remote side lets go when no heartbeat arrives for this long. Default 30 s. */
  idleSeconds?: number;
  /** Heartbeat period; default a third of idleSeconds. */
  heartbeatMs?: number;
  /** Wait this long for a held lock before failing. Default 5 s: a deploy whose connection just died (a rerun
   * right after a cut or Ctrl-C) lets go within moments; a deploy that is really running fails fast anyway. */
  waitSeconds?: number;
  /** Give up if the remote side does not answer at all. Default 30 s + waitSeconds. */
  timeoutMs?: number;
  /** A command run once the lock is held, before the lock reports it (deploy reads the upload state here: its
   * round trips then cost nothing extra). Its stdout and exit code come back as `RemoteLock.underLock`. */
  underLock?: string[];
}

export interface RemoteLock {
  readonly holder: string;
  /** What `LockOptions.underLock` printed and its exit code (stderr is not kept apart from the lock's own). */
  readonly underLock?: { code: number; stdout: string; stderr: string };
  release(): Promise<void>;
}

/** `user@host pid N since ISO-time`: enough for a person to find the other deploy (pure). */
export function holderDescription(info: {
  user: string;
  hostname: string;
  pid: number;
  since: Date;
}): string {
  return `${info.user}@${info.hostname} pid ${info.pid} since ${info.since.toISOString()}`;
}

export function lockPaths(remoteDir: string): { dir: string; lockFile: string; ownerFile: string } {
  const dir = `${remoteDir.replace(/\/+$/, "")}/.odapi`;
  return { dir, lockFile: `${dir}/deploy.lock`, ownerFile: `${dir}/deploy.lock.owner` };
}

// bash, not sh: `read -t` (the heartbeat timeout) is not POSIX. flock(1) is util-linux, on every mainstream distro.
const LOCK_SCRIPT = [
  "dir=$1; lock=$2; owner=$3; holder=$4; idle=$5; wait=$6",
  'mkdir -p "$dir" || exit 1',
  'exec 9>>"$lock" || exit 1',
  // -E: "held by someone else" gets its own exit code, apart from real errors (bad fd, no flock).
  `flock -w "$wait" -E ${LOCK_BUSY_EXIT} 9 || { rc=$?; [ "$rc" -eq ${LOCK_BUSY_EXIT} ] && printf '${LOCK_HELD} %s\\n' "$(cat "$owner" 2>/dev/null || echo 'an unknown process')" >&2; exit "$rc"; }`,
  'printf "%s\\n" "$holder" >"$owner"',
  // The optional command after the six fixed arguments runs under the lock; its exit code follows the marker.
  'shift 6; rc=0; if [ "$#" -gt 0 ]; then "$@" </dev/null; rc=$?; fi',
  `echo; echo ${LOCK_ACQUIRED} "$rc"`,
  // Each heartbeat line restarts the wait; EOF or silence ends bash, which drops the flock.
  'while IFS= read -r -t "$idle" _; do :; done',
  'rm -f "$owner"',
].join("\n");

/** The remote argv that takes the lock and holds it while stdin keeps delivering heartbeats (pure). */
export function lockArgv(
  remoteDir: string,
  holder: string,
  idleSeconds: number,
  waitSeconds = 5,
  underLock: string[] = [],
): string[] {
  const p = lockPaths(remoteDir);
  return [
    "bash",
    "-c",
    LOCK_SCRIPT,
    "odapi-lock",
    p.dir,
    p.lockFile,
    p.ownerFile,
    holder,
    String(idleSeconds),
    String(waitSeconds),
    ...underLock,
  ];
}

const ACQUIRED_LINE = new RegExp(`\n${LOCK_ACQUIRED} (\\d+)\n`);

/** Splits the lock's stdout at the acquired marker: the `underLock` command's output and exit code (pure). */
export function parseAcquired(stdout: string): { code: number; stdout: string } | undefined {
  const m = ACQUIRED_LINE.exec(stdout);
  return m ? { code: Number(m[1]), stdout: stdout.slice(0, m.index) } : undefined;
}

export function lockedError(host: string, remoteDir: string, holderText: string): OdapiError {
  return new OdapiError(
    `another deploy to ${host}:${remoteDir} is running (held by ${holderText})`,
    "wait for it to finish, or stop it; the lock is released as soon as that deploy's SSH connection ends",
    "locked",
  );
}

/** Takes the deploy lock for `remoteDir` on the session's host, or fails at once naming the holder. */
export function acquireRemoteLock(
  session: SshSession,
  remoteDir: string,
  opts: LockOptions = {},
): Promise<RemoteLock> {
  const holder =
    opts.holder ??
    holderDescription({
      user: os.userInfo().username,
      hostname: os.hostname(),
      pid: process.pid,
      since: new Date(),
    });
  const idleSeconds = opts.idleSeconds ?? 30;
  const heartbeatMs = opts.heartbeatMs ?? Math.max(200, (idleSeconds * 1000) / 3);
  const waitSeconds = opts.waitSeconds ?? 5;
  const argv = lockArgv(remoteDir, holder, idleSeconds, waitSeconds, opts.underLock);
  const command = remoteCommandLine(argv, { sudo: false, user: session.target.user });

  return new Promise((resolve, reject) => {
    session.client.exec(command, (err, stream: ClientChannel) => {
      if (err) {
        reject(
          new OdapiError(
            `could not start the lock command on ${session.target.host}: ${err.message}`,
            "retry",
            "unreachable",
          ),
        );
        return;
      }
      let stdout = "";
      let stderr = "";
      let code = 255;
      let acquired = false;
      let heartbeat: NodeJS.Timeout | undefined;
      let closed = false;
      let connectionGone = false;
      const onClosed: (() => void)[] = [];
      const onConnectionClose = () => {
        connectionGone = true;
        if (heartbeat) clearInterval(heartbeat);
        for (const done of onClosed.splice(0)) done();
      };
      session.client.once("close", onConnectionClose);
      const timer = setTimeout(
        () => {
          stream.close();
          reject(
            new OdapiError(
              `the lock on ${session.target.host}:${remoteDir} did not answer in time`,
              "retry",
              "timeout",
            ),
          );
        },
        opts.timeoutMs ?? 30_000 + waitSeconds * 1000,
      );

      stream.on("data", (d: Buffer) => {
        stdout += d.toString();
        const ran = acquired ? undefined : parseAcquired(stdout);
        if (ran) {
          acquired = true;
          clearTimeout(timer);
          heartbeat = setInterval(() => {
            if (!closed) stream.write("\n");
          }, heartbeatMs);
          heartbeat.unref();
          resolve({
            holder,
            ...(opts.underLock ? { underLock: { ...ran, stderr } } : {}),
            release: () =>
              new Promise<void>((done) => {
                if (heartbeat) clearInterval(heartbeat);
                // Never wait on a dead connection: the lock died with it. The timeout caps a peer that never confirms.
                if (closed || connectionGone) return done();
                onClosed.push(done);
                stream.end(); // EOF: the remote loop ends, bash exits, the flock is gone
                setTimeout(done, 5000).unref();
              }),
          });
        }
      });
      stream.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      stream.on("exit", (c: number | null) => {
        if (typeof c === "number") code = c;
      });
      stream.on("close", () => {
        closed = true;
        session.client.removeListener("close", onConnectionClose);
        if (heartbeat) clearInterval(heartbeat);
        for (const done of onClosed.splice(0)) done();
        if (acquired) return;
        clearTimeout(timer);
        const line = stderr.split("\n").find((l) => l.startsWith(LOCK_HELD));
        if (code === LOCK_BUSY_EXIT && line) {
          reject(lockedError(session.target.host, remoteDir, line.slice(LOCK_HELD.length).trim()));
        } else {
          reject(
            remoteCommandError(
              ["flock", `${remoteDir}/.odapi/deploy.lock`],
              { code, stdout, stderr },
              session.target,
            ),
          );
        }
      });
    });
  });
}
