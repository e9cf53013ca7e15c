// Sends byte ranges over several SFTP channels at once: pipelined writes at offsets, small files spread over lanes.
import type { FileHandle } from "node:fs/promises";
import { open as openLocal } from "node:fs/promises";
import { type SFTPWrapper, utils } from "ssh2";
import type { BundleFile } from "./manifest";
import type { Piece } from "./ranges";
import { KiB, LOCAL_RTT_MS, MiB } from "./ranges";

/** Upper bound of one SFTP write request (OpenSSH announces 255 KiB via limits@openssh.com). */
export const WRITE_CHUNK = 256 * KiB;

/**
 * The write size for a channel: never above what the server accepts. ssh2 would split a larger write and send
 * the tail only after the head is acknowledged, leaving 1 KiB holes everywhere when a connection is cut (so a
 * resume re-sends whole blocks). `_maxWriteLen` is ssh2's negotiated limit; 32 KiB is its floor for other servers.
 */
export function writeChunkFor(sftp: SFTPWrapper): number {
  const negotiated = (sftp as unknown as { _maxWriteLen?: number })._maxWriteLen;
  return Math.min(WRITE_CHUNK, typeof negotiated === "number" && negotiated > 0 ? negotiated : 32 * KiB);
}
/** Bytes in flight per lane: with several lanes per channel this keeps the channel's 2 MiB window full. */
export const LANE_INFLIGHT = 1 * MiB;
/** Lanes per channel: hides open/close round trips of small files behind other lanes' data. */
export const LANES_PER_CHANNEL = 4;

const { OPEN_MODE } = utils.sftp;
/** Create if missing, never truncate: several lanes write ranges of the same file, and a resumed file keeps its good blocks. */
const WRITE_FLAGS = OPEN_MODE.WRITE | OPEN_MODE.CREAT;

export interface UploadTarget {
  file: BundleFile;
  /** Absolute remote path. */
  remotePath: string;
}

/** An SFTP failure with its status code (ssh2 sets `code` to the SFTP status). */
export class SftpOpError extends Error {
  constructor(
    readonly op: string,
    readonly remotePath: string,
    readonly code: number | string | undefined,
    message: string,
  ) {
    super(message);
  }
}

function sftpError(op: string, remotePath: string, err: Error & { code?: number | string }): SftpOpError {
  return new SftpOpError(op, remotePath, err.code, `${op} ${remotePath}: ${err.message}`);
}

function openRemote(sftp: SFTPWrapper, remotePath: string, mode: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sftp.open(remotePath, WRITE_FLAGS, { mode }, (err, handle) =>
      err ? reject(sftpError("open", remotePath, err)) : resolve(handle),
    );
  });
}

function closeRemote(sftp: SFTPWrapper, handle: Buffer, remotePath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    sftp.close(handle, (err) => (err ? reject(sftpError("close", remotePath, err)) : resolve()));
  });
}

function writeAt(
  sftp: SFTPWrapper,
  handle: Buffer,
  buf: Buffer,
  position: number,
  remotePath: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    sftp.write(handle, buf, 0, buf.length, position, (err) =>
      err ? reject(sftpError("write", remotePath, err)) : resolve(),
    );
  });
}

async function readChunk(
  file: BundleFile,
  fh: FileHandle | undefined,
  position: number,
  length: number,
): Promise<Buffer> {
  if (file.content) return file.content.subarray(position, position + length);
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await (fh as FileHandle).read(buf, got, length - got, position + got);
    if (bytesRead === 0) throw new Error(`${file.localPath} shrank while it was being uploaded`);
    got += bytesRead;
  }
  return buf;
}

export interface UploadHooks {
  /** Called as the server acknowledges each write. */
  onBytes(n: number): void;
  /** Called once every piece of a target is written and closed (its remote hashing can start). */
  onTargetDone(t: UploadTarget): void;
  /** Checked before each write: a reason to stop (abort, connection lost, another lane failed). */
  stopReason(): Error | undefined;
  /** Settles with the reason once the work must stop: a dead connection never answers pending requests. */
  stopped: Promise<Error>;
}

/** `p`, unless `stopped` settles first: then that reason is thrown (and `p`'s late outcome ignored). */
export function unlessStopped<T>(p: Promise<T>, stopped: Promise<Error>): Promise<T> {
  p.catch(() => undefined);
  return Promise.race([
    p,
    stopped.then((reason) => {
      throw reason;
    }),
  ]);
}

/** Writes one piece: open, up to LANE_INFLIGHT bytes of pipelined writes, close (even on failure). */
async function sendPiece(sftp: SFTPWrapper, piece: Piece<UploadTarget>, hooks: UploadHooks): Promise<void> {
  const { file, remotePath } = piece.file;
  const handle = await unlessStopped(openRemote(sftp, remotePath, piece.file.file.mode), hooks.stopped);
  const fh = file.content ? undefined : await openLocal(file.localPath as string, "r");
  const pending = new Set<Promise<void>>();
  const chunk = writeChunkFor(sftp);
  try {
    for (let pos = piece.start; pos < piece.end; pos += chunk) {
      const stop = hooks.stopReason();
      if (stop) throw stop;
      const len = Math.min(chunk, piece.end - pos);
      const buf = await readChunk(file, fh, pos, len);
      const p: Promise<void> = writeAt(sftp, handle, buf, pos, remotePath).then(() => {
        pending.delete(p);
        hooks.onBytes(len);
      });
      p.catch(() => undefined); // handled by race/all below; avoids an unhandled rejection when another write fails first
      pending.add(p);
      while (pending.size * chunk >= LANE_INFLIGHT) await unlessStopped(Promise.race(pending), hooks.stopped);
    }
    await unlessStopped(Promise.all(pending), hooks.stopped);
  } finally {
    await fh?.close();
    await unlessStopped(closeRemote(sftp, handle, remotePath), hooks.stopped).catch(() => undefined);
  }
}

/**
 * Sends all pieces over the channels (LANES_PER_CHANNEL lanes each, pulling from one queue).
 * Rejects with the first failure; the other lanes stop at their next write.
 */
export async function uploadPieces(
  channels: SFTPWrapper[],
  pieces: Piece<UploadTarget>[],
  /** Channels still opening: their lanes join when they arrive, if pieces are left. */
  late: Promise<SFTPWrapper[]>,
  hooks: UploadHooks,
): Promise<void> {
  const remaining = new Map<UploadTarget, number>();
  for (const p of pieces) remaining.set(p.file, (remaining.get(p.file) ?? 0) + 1);
  let next = 0;
  let failure: Error | undefined;
  let failed: (e: Error) => void = () => undefined;
  const laneFailed = new Promise<Error>((resolve) => {
    failed = resolve;
  });
  const guarded: UploadHooks = {
    ...hooks,
    stopReason: () => failure ?? hooks.stopReason(),
    stopped: Promise.race([hooks.stopped, laneFailed]),
  };
  const lane = async (sftp: SFTPWrapper) => {
    while (!failure) {
      const piece = pieces[next++];
      if (!piece) return;
      try {
        const stop = guarded.stopReason();
        if (stop) throw stop;
        await sendPiece(sftp, piece, guarded);
      } catch (err) {
        failure ??= err as Error;
        failed(failure);
        return;
      }
      const left = (remaining.get(piece.file) ?? 1) - 1;
      remaining.set(piece.file, left);
      if (left === 0) hooks.onTargetDone(piece.file);
    }
  };
  const lanesOn = (chs: SFTPWrapper[]) => {
    const lanes: Promise<void>[] = [];
    for (let i = 0; i < LANES_PER_CHANNEL; i++) for (const ch of chs) lanes.push(lane(ch));
    return Promise.all(lanes);
  };
  let joined: Promise<unknown> | undefined;
  void late.then((more) => {
    if (!failure && next < pieces.length) joined = lanesOn(more);
  });
  await lanesOn(channels);
  // Lanes that joined late finish the pieces they took (channels still opening are not waited for).
  if (joined) await joined;
  if (failure) throw failure;
}

/** A round trip this long is a network path, not server start-up noise. */
const SLOW_RTT_MS = 20;
/** Samples at most, when the first ones land between LOCAL_RTT_MS and SLOW_RTT_MS. */
const MAX_SAMPLES = 6;

/** Round trip of one SFTP request, the minimum of a few (the first may include server-side setup); two slow
 * samples settle it, so a slow link pays two round trips here instead of three. A few more samples are taken
 * while the best lies between local and slow: on a loaded host (a parallel login, other processes) one quiet
 * sample shows the link is local. */
export async function measureRttMs(sftp: SFTPWrapper, samples = 3): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < MAX_SAMPLES; i++) {
    if (i >= 2 && best >= SLOW_RTT_MS) break;
    if (i >= samples && best < LOCAL_RTT_MS) break;
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) =>
      sftp.realpath(".", (err) => (err ? reject(err) : resolve())),
    );
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return best;
}
