// syncBundle: check the remote, plan, prepare, send in parallel, verify every file by sha256, rename into place.
import path from "node:path";
import type { SFTPWrapper } from "ssh2";
import { OdapiError } from "../../common/errors";
import { RateMeter } from "../../common/rate-meter";
import { checkRemoteDir } from "../../common/remote-dir";
import { diskFullError, remoteCommandError } from "../ssh/errors";
import type { SshSession } from "../ssh/session";
import { notEnoughSpaceError, uploadErrorOf, verifyMismatchError } from "./errors";
import { type BundleFile, hashBlocks, type ManifestEntry, parseManifest } from "./manifest";
import type { Transport } from "./openssh-batch";
import { OpenSshError, type OpenSshItem, type OpenSshSftp } from "./openssh-sftp";
import { stagedPathOf, validateRelPath } from "./paths";
import { startPending } from "./pending-command";
import { hashRequestsFor, type Plan, planSync, type UploadItem } from "./plan";
import {
  blockSizeFor,
  chooseParallelism,
  dirLevels,
  MiB,
  parseParallel,
  pieceSizeFor,
  splitPieces,
} from "./ranges";
import {
  commitCommand,
  commitTail,
  commitVerifyLine,
  diskFreeCommand,
  type HashResults,
  hashCommand,
  hashRequestText,
  opsCommand,
  opsText,
  parseCommitOutput,
  parseDiskFree,
  parseHashOutput,
  parseState,
  stateCommand,
} from "./remote-scripts";
import { fromOpenSsh, openSshUnusableError, splitTransports, startOpenSsh } from "./transports";
import { measureRttMs, type UploadTarget, unlessStopped, uploadPieces } from "./uploader";

/** The upload's shown rate looks 2 s back: steady at the start, and a stall shows within seconds. */
const UPLOAD_RATE_WINDOW_MS = 2000;

export interface SyncProgress {
  sentBytes: number;
  totalBytes: number;
  bytesPerSecond: number;
}

export interface SyncOptions {
  files: BundleFile[];
  remoteDir: string;
  /** SFTP channels; "auto" (default) chooses from the measured round trip. */
  parallel?: number | "auto";
  /**
   * What carries whole files (see `Transport`): default "ssh2" here; `odapi deploy` uses "auto", which sends them
   * with the OpenSSH `sftp` client when it is installed and one channel suffices (its C crypto leaves node's
   * thread free: 201 MB on loopback ~0.75 s instead of ~1.2 s).
   */
  transport?: Transport;
  /** The `sftp` executable for the openssh transport (default `sftp` on PATH). */
  sftpBinary?: string;
  /** Remove version dirs of the bundle's models that the bundle does not have (see Plan.stale). */
  prune?: boolean;
  onProgress?: (p: SyncProgress) => void;
  signal?: AbortSignal;
  /** One line per step, for --verbose. */
  log?: (line: string) => void;
}

export interface SyncResult {
  /** Files placed this run (sent, resumed or hard-linked from identical remote content). */
  uploadedFiles: number;
  /** Payload bytes sent over the wire. */
  uploadedBytes: number;
  /** Files already in place and verified unchanged. */
  skippedFiles: number;
  /** SFTP channels used (0 when nothing was sent) and the measured SFTP round trip. */
  channels: number;
  rttMs?: number;
  /** Files sent by the OpenSSH sftp client (the rest of `uploadedFiles` went over ssh2 or were linked). */
  opensshFiles: number;
  /** Version dirs (`models/ssd/3`) of the bundle's models that the bundle lacks: removed with `prune`, else left. */
  staleVersions: { dir: string; outranks: boolean; removed: boolean }[];
}

const PROGRESS_EVERY_MS = 100;
/** Less free space than this after a failed commit means the disk is the cause. */
const DISK_FULL_BYTES = 1 * MiB;
/** How often the size of the file the OpenSSH client is writing is polled, for the progress bar. */
const OPENSSH_POLL_MS = 250;
/** How long the OpenSSH client may take to log in (it started with the state command) before ssh2 carries all. */
const OPENSSH_READY_MS = 15_000;
function checkInputs(files: BundleFile[], remoteDir: string): void {
  checkRemoteDir(remoteDir);
  const seen = new Set<string>();
  for (const f of files) {
    validateRelPath(f.relPath);
    if (seen.has(f.relPath)) {
      throw new OdapiError(`the bundle holds ${f.relPath} twice`, "give every file one path", "config");
    }
    seen.add(f.relPath);
    if (!f.content && !f.localPath) {
      throw new OdapiError(
        `bundle file ${f.relPath} has neither content nor a local path`,
        "report this bug",
        "failure",
      );
    }
  }
}

function sameEntries(a: Record<string, ManifestEntry>, b: Record<string, ManifestEntry>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => {
    const x = a[k] as ManifestEntry;
    const y = b[k];
    return y !== undefined && x.sha256 === y.sha256 && x.size === y.size && x.mtime === y.mtime;
  });
}

/** Free bytes on the filesystem of `remoteDir` (`df`), or undefined when that cannot be learned. */
export async function remoteFreeBytes(session: SshSession, remoteDir: string): Promise<number | undefined> {
  const df = await session.exec(diskFreeCommand(remoteDir)).catch(() => undefined);
  return df ? parseDiskFree(df.stdout) : undefined;
}

/** Creates the upload dirs over SFTP (no remote shell start): ancestors first, each depth in parallel; existing dirs are fine. */
async function makeDirs(sftp: SFTPWrapper, remoteDir: string, dirs: string[]): Promise<void> {
  // One round trip: sftp-server handles a channel's requests in order, so parents exist before their children.
  // An error here (e.g. "exists") is ignored; a real problem resurfaces as a clear open() error.
  await Promise.all(
    dirLevels(dirs)
      .flat()
      .map((d) => new Promise<void>((resolve) => sftp.mkdir(`${remoteDir}/${d}`, () => resolve()))),
  );
}

interface Probe {
  sftp: SFTPWrapper;
  rttMs: number;
}

/** The first SFTP channel and the round trip, measured while the state command runs (saves ~5 round trips). */
function startProbe(session: SshSession): Promise<Probe | undefined> {
  return session
    .sftp()
    .then(async (sftp) => ({ sftp, rttMs: await measureRttMs(sftp) }))
    .catch(() => undefined);
}

async function openChannels(session: SshSession, count: number): Promise<SFTPWrapper[]> {
  const settled = await Promise.allSettled(Array.from({ length: count }, () => session.sftp()));
  const ok = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  // The server may cap sessions per connection (MaxSessions, 10 by default): use what it granted.
  if (ok.length === 0) throw (settled[0] as PromiseRejectedResult).reason;
  return ok;
}

async function localBlocksFor(
  files: BundleFile[],
  hashes: HashResults | undefined,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!hashes) return out;
  for (const f of files) {
    if (hashes.blocks.has(stagedPathOf(f.relPath)))
      out.set(f.relPath, await hashBlocks(f, blockSizeFor(f.size)));
  }
  return out;
}

export async function syncBundle(session: SshSession, opts: SyncOptions): Promise<SyncResult> {
  const remoteDir = opts.remoteDir.replace(/\/+$/, "");
  checkInputs(opts.files, remoteDir);
  const log = opts.log ?? (() => undefined);
  const { host } = session.target;
  const channelsWanted = parseParallel(opts.parallel);

  const openssh = startOpenSsh(session, opts, remoteDir);
  const probe = startProbe(session);
  let probeHandedOver = false;
  try {
    const state = parseState((await session.run(stateCommand(remoteDir))).stdout);
    const view = { files: state.files, manifest: parseManifest(state.manifestText) };
    const requests = hashRequestsFor(opts.files, view);
    let hashes: HashResults | undefined;
    if (requests.length > 0) {
      log(`checking ${requests.length} remote file(s) whose size/mtime changed since the manifest`);
      hashes = parseHashOutput(
        (await session.run(hashCommand(remoteDir), { stdin: hashRequestText(requests) })).stdout,
      );
    }
    const plan: Plan = planSync(opts.files, view, hashes, await localBlocksFor(opts.files, hashes), {
      prune: opts.prune === true,
    });
    log(
      `plan: ${plan.skipped.length} unchanged, ${plan.verify.length} to place, ${plan.uploads.length} to send (${plan.sendBytes} bytes)`,
    );
    if (state.freeBytes !== undefined && plan.sendBytes > state.freeBytes) {
      throw notEnoughSpaceError(host, plan.sendBytes, state.freeBytes);
    }
    const manifestUnchanged = plan.verify.length === 0 && sameEntries(plan.kept, view.manifest.files);
    const needCommit = plan.verify.length > 0 || plan.finalize.length > 0 || !manifestUnchanged;
    const commit = needCommit ? startPending(session, commitCommand(remoteDir)) : undefined;
    const announce = (v: Plan["verify"][number]) =>
      commit?.write(commitVerifyLine({ sha256: v.file.sha256, staged: v.remotePath, final: v.file.relPath }));

    let sent = 0;
    let channels = 0;
    let rttMs: number | undefined;
    let opensshFiles = 0;
    try {
      if (plan.prepare.length > 0) await session.run(opsCommand(remoteDir), { stdin: opsText(plan.prepare) });
      const sending = new Map(plan.uploads.map((u) => [u.remotePath, u]));
      for (const v of plan.verify) if (!sending.has(v.remotePath)) announce(v);
      const verifyOf = new Map(plan.verify.map((v) => [v.remotePath, v]));
      if (plan.uploads.length > 0) {
        probeHandedOver = true; // sendAll closes every channel it uses
        const r = await sendAll(
          session,
          await probe,
          openssh,
          plan,
          remoteDir,
          channelsWanted,
          opts,
          (remotePath) => {
            const v = verifyOf.get(remotePath);
            if (v) announce(v);
          },
        );
        ({ sentBytes: sent, channels, rttMs, opensshFiles } = r);
      }
    } catch (err) {
      commit?.cancel();
      throw err;
    }

    if (commit && opts.signal?.aborted) {
      // Ctrl-C after the last byte but before the commit: still nothing changes on the server.
      commit.cancel();
      throw uploadErrorOf(new Error("aborted"), {
        host,
        user: session.target.user,
        sentBytes: sent,
        totalBytes: plan.sendBytes,
        connectionLost: false,
        aborted: true,
      });
    }
    if (commit) {
      const res = await commit.finish(commitTail({ ops: plan.finalize, kept: plan.kept }));
      const out = parseCommitOutput(res.stdout);
      if (out.mismatches.length > 0 || res.code !== 0 || !out.committed) {
        // A disk that filled up after the data arrived: the commit cannot record its hashes or the manifest.
        const free = await remoteFreeBytes(session, remoteDir);
        if (free !== undefined && free < DISK_FULL_BYTES) {
          throw diskFullError(
            host,
            `${(free / 1e6).toFixed(1)} MB free; the upload could not be verified, nothing was renamed`,
          );
        }
      }
      if (out.mismatches.length > 0) {
        const byStaged = new Map(plan.verify.map((v) => [v.remotePath, v.file.relPath]));
        throw verifyMismatchError(
          host,
          out.mismatches.map((m) => byStaged.get(m) ?? m),
        );
      }
      if (res.code !== 0 || !out.committed)
        throw remoteCommandError(commitCommand(remoteDir), res, session.target);
    }
    log(`done: ${plan.verify.length} placed, ${sent} bytes sent, ${plan.skipped.length} unchanged`);
    return {
      uploadedFiles: plan.verify.length,
      uploadedBytes: sent,
      skippedFiles: plan.skipped.length,
      channels,
      rttMs,
      opensshFiles,
      staleVersions: plan.stale.map((v) => ({ ...v, removed: plan.prune })),
    };
  } finally {
    if (!probeHandedOver) void probe.then((p) => p?.sftp.end());
    await openssh?.close();
  }
}

async function sendAll(
  session: SshSession,
  probe: Probe | undefined,
  openssh: OpenSshSftp | undefined,
  plan: Plan,
  remoteDir: string,
  channelsWanted: number | undefined,
  opts: SyncOptions,
  /** A staged file (relative path) is completely written. */
  done: (remotePath: string) => void,
): Promise<{ sentBytes: number; channels: number; rttMs: number; opensshFiles: number }> {
  const { host, user } = session.target;
  const total = plan.sendBytes;
  let ssh2Sent = 0;
  let nativeDone = 0;
  let nativeCurrent = 0;
  const sentNow = () => ssh2Sent + nativeDone + nativeCurrent;
  let lost = false;
  let failure: Error | undefined;
  const lostError = new Error("connection lost");
  const abortError = new Error("aborted");
  let stop: (e: Error) => void = () => undefined;
  const stopped = new Promise<Error>((resolve) => {
    stop = resolve;
  });
  void stopped.then(() => openssh?.kill());
  const onClose = () => {
    lost = true;
    stop(lostError);
  };
  const onAbort = () => stop(abortError);
  session.client.once("close", onClose);
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const channels: SFTPWrapper[] = [];
  const meter = new RateMeter(UPLOAD_RATE_WINDOW_MS);
  const started = Date.now();
  let lastReport = 0;
  const progress = (force: boolean) => {
    const sent = sentNow();
    const now = Date.now();
    if (!force && now - lastReport < PROGRESS_EVERY_MS) return;
    lastReport = now;
    opts.onProgress?.({
      sentBytes: sent,
      totalBytes: total,
      bytesPerSecond: meter.update(sent, now - started),
    });
  };
  let rttMs = 0;
  let poll: NodeJS.Timeout | undefined;
  /** Re-reads the size of the file the OpenSSH client was writing (for the bytes-sent figure after a failure). */
  let refreshNative: () => Promise<void> = async () => undefined;
  try {
    const first = probe?.sftp ?? (await unlessStopped(session.sftp(), stopped));
    channels.push(first);
    rttMs = probe?.rttMs ?? (await unlessStopped(measureRttMs(first), stopped));
    const count = channelsWanted ?? chooseParallelism(rttMs, total, plan.uploads.length);
    const transport = opts.transport ?? "ssh2";
    const tryNative = openssh !== undefined && (transport === "openssh" || count === 1);
    const [more, , nativeUp] = await unlessStopped(
      Promise.all([
        count > 1 ? openChannels(session, count - 1) : [],
        makeDirs(first, remoteDir, plan.dirs),
        tryNative
          ? (openssh as OpenSshSftp).readyWithin(OPENSSH_READY_MS).then(
              () => true,
              (err: Error) => {
                if (transport === "openssh") throw openSshUnusableError(err);
                opts.log?.(`OpenSSH sftp not usable (${err.message}); sending over ssh2`);
                return false;
              },
            )
          : false,
      ]),
      stopped,
    );
    channels.push(...more);
    const { native, rest } = splitTransports(plan.uploads, remoteDir, nativeUp);
    const nativeBytes = native.reduce((n, u) => n + u.file.size, 0);
    opts.log?.(
      `sending ${total} bytes: ${native.length} file(s), ${nativeBytes} bytes with the OpenSSH sftp client; ` +
        `${rest.length} file(s) over ${channels.length} SFTP channel(s); round trip ${rttMs.toFixed(1)} ms`,
    );
    const targetOf = (u: UploadItem): UploadTarget => ({
      file: u.file,
      remotePath: `${remoteDir}/${u.remotePath}`,
    });
    const pieces = splitPieces(
      rest.map((u) => ({ file: targetOf(u), size: u.file.size, ranges: u.ranges })),
      pieceSizeFor(total - nativeBytes, channels.length),
    );
    const failed = (err: Error): never => {
      failure ??= err;
      stop(err);
      throw err;
    };
    progress(true);
    const ssh2Run =
      pieces.length === 0
        ? Promise.resolve()
        : uploadPieces(channels, pieces, {
            onBytes: (n) => {
              ssh2Sent += n;
              progress(false);
            },
            onTargetDone: (t) => done(t.remotePath.slice(remoteDir.length + 1)),
            stopReason: () => failure ?? (lost ? lostError : opts.signal?.aborted ? abortError : undefined),
            stopped,
          }).catch(failed);
    let nativeRun: Promise<void> = Promise.resolve();
    if (native.length > 0) {
      const items: OpenSshItem[] = native.map((u) => ({
        localPath: path.resolve(u.file.localPath as string),
        remotePath: `${remoteDir}/${u.remotePath}`,
        size: u.file.size,
      }));
      let writing = -1;
      const pollSize = (done: () => void) => {
        const i = writing;
        const it = items[i];
        if (!it) return done();
        first.stat(it.remotePath, (err, st) => {
          if (!err && i === writing) nativeCurrent = Math.min(st.size, it.size);
          done();
        });
      };
      // The client reports nothing within a file: poll the size of the one it is writing.
      poll = setInterval(() => pollSize(() => progress(false)), OPENSSH_POLL_MS);
      refreshNative = () =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000); // a dead connection never answers
          pollSize(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      nativeRun = unlessStopped(
        (openssh as OpenSshSftp).send(items, {
          onStart: (i) => {
            writing = i;
            nativeCurrent = 0;
          },
          onDone: (i) => {
            writing = -1;
            nativeCurrent = 0;
            nativeDone += (items[i] as OpenSshItem).size;
            progress(false);
            done((native[i] as UploadItem).remotePath);
          },
        }),
        stopped,
      ).catch((err: Error) => {
        if (err instanceof OpenSshError && err.failure.kind === "lost") return failed(lostError);
        return failed(err instanceof OpenSshError ? fromOpenSsh(err) : err);
      });
    }
    await Promise.all([ssh2Run, nativeRun]);
    progress(true);
    return { sentBytes: sentNow(), channels: channels.length, rttMs, opensshFiles: native.length };
  } catch (e) {
    const err = failure ?? (e as Error);
    let freeBytesAfter: number | undefined;
    if (!lost) await refreshNative();
    if (!lost && !opts.signal?.aborted) freeBytesAfter = await remoteFreeBytes(session, remoteDir);
    throw uploadErrorOf(err, {
      host,
      user,
      sentBytes: sentNow(),
      totalBytes: total,
      connectionLost: lost || err === lostError,
      aborted: Boolean(opts.signal?.aborted),
      freeBytesAfter,
    });
  } finally {
    if (poll) clearInterval(poll);
    session.client.removeListener("close", onClose);
    opts.signal?.removeEventListener("abort", onAbort);
    for (const ch of channels) ch.end();
  }
}
