// The sending part of a sync: channels (the early ones, plus or minus what the plan needs), the ssh2 and OpenSSH
// data paths side by side, progress, and every failure turned into one upload error that says how far it got.

import path from "node:path";
import type { SFTPWrapper } from "ssh2";
import type { ByteProgress } from "../../common/rate-meter";
import { RateMeter } from "../../common/rate-meter";
import type { SshSession } from "../ssh/session";
import { type EarlyChannels, makeDirs, openChannels, type Probe } from "./channels";
import { remoteFreeBytes } from "./disk";
import { uploadErrorOf } from "./errors";
import type { Transport } from "./openssh-batch";
import { OpenSshError, type OpenSshItem, type OpenSshSftp } from "./openssh-sftp";
import type { Plan, UploadItem } from "./plan";
import { chooseParallelism, pieceSizeFor, splitPieces } from "./ranges";
import { fromOpenSsh, openSshUnusableError, splitTransports } from "./transports";
import { measureRttMs, type UploadTarget, unlessStopped, uploadPieces } from "./uploader";

/** The upload's shown rate looks 2 s back: steady at the start, and a stall shows within seconds. */
const UPLOAD_RATE_WINDOW_MS = 2000;
const PROGRESS_EVERY_MS = 100;
/** How often the size of the file the OpenSSH client is writing is polled, for the progress bar. */
const OPENSSH_POLL_MS = 250;
/** How long the OpenSSH client may take to log in (it started with the state command) before ssh2 carries all. */
const OPENSSH_READY_MS = 15_000;

export interface SendOptions {
  session: SshSession;
  plan: Pick<Plan, "uploads" | "sendBytes" | "dirs">;
  remoteDir: string;
  /** The first SFTP channel and its measured round trip, when the early start got them. */
  probe: Probe | undefined;
  /** Channels opening since the early start; surplus ones are closed, missing ones opened. */
  extra: EarlyChannels;
  openssh: OpenSshSftp | undefined;
  /** --parallel: a fixed channel count; undefined = chosen from the round trip. */
  channelsWanted: number | undefined;
  transport: Transport;
  signal?: AbortSignal;
  log?: (line: string) => void;
  onProgress?: (p: ByteProgress) => void;
  /** A staged file (path relative to remoteDir) is completely written. */
  onFileDone: (remotePath: string) => void;
}

export interface SendResult {
  sentBytes: number;
  channels: number;
  rttMs: number;
  opensshFiles: number;
}

/** Sends every planned upload; closes every channel it was given or opened. */
export async function sendAll(opts: SendOptions): Promise<SendResult> {
  const { session, plan, remoteDir, openssh } = opts;
  const done = opts.onFileDone;
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
  let closeLate: () => void = () => undefined;
  try {
    const first = opts.probe?.sftp ?? (await unlessStopped(session.sftp(), stopped));
    channels.push(first);
    rttMs = opts.probe?.rttMs ?? (await unlessStopped(measureRttMs(first), stopped));
    const count = opts.channelsWanted ?? chooseParallelism(rttMs, total, plan.uploads.length);
    const transport = opts.transport;
    const tryNative = openssh !== undefined && (transport === "openssh" || count === 1);
    // The early channels and the ones still missing join the sending as they open (past MaxSessions an open
    // fails: the others carry on); more early ones than this plan needs (a small change) are closed.
    let closing = false;
    const keep = Math.max(0, count - 1);
    const late = Promise.all([
      opts.extra.channels,
      openChannels(session, keep - opts.extra.asked).catch((err: Error) => {
        opts.log?.(`no more SFTP channels (${err.message})`);
        return [] as SFTPWrapper[];
      }),
    ]).then(([early, more]) => {
      const all = [...early, ...more];
      for (const ch of all.splice(keep)) ch.end();
      if (closing) for (const ch of all.splice(0)) ch.end();
      channels.push(...all);
      return all;
    });
    closeLate = () => {
      closing = true;
    };
    const [, nativeUp] = await unlessStopped(
      Promise.all([
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
    const { native, rest } = splitTransports(plan.uploads, remoteDir, nativeUp);
    const nativeBytes = native.reduce((n, u) => n + u.file.size, 0);
    opts.log?.(
      `sending ${total} bytes: ${native.length} file(s), ${nativeBytes} bytes with the OpenSSH sftp client; ` +
        `${rest.length} file(s) over ${count} SFTP channel(s) (1 open, the rest joining as they open); round trip ${rttMs.toFixed(1)} ms`,
    );
    const targetOf = (u: UploadItem): UploadTarget => ({
      file: u.file,
      remotePath: `${remoteDir}/${u.remotePath}`,
    });
    const pieces = splitPieces(
      rest.map((u) => ({ file: targetOf(u), size: u.file.size, ranges: u.ranges })),
      pieceSizeFor(total - nativeBytes, count),
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
        : uploadPieces([...channels], pieces, late, {
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
    closeLate();
    if (poll) clearInterval(poll);
    session.client.removeListener("close", onClose);
    opts.signal?.removeEventListener("abort", onAbort);
    for (const ch of channels) ch.end();
  }
}
