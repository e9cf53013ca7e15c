// Byte ranges, resume blocks, work pieces and the parallelism decision (pure).
import { OdapiError } from "../../common/errors";

/** A half-open byte range [start, end). */
export interface ByteRange {
  start: number;
  end: number;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;

/**
 * Resume granularity for a file: small enough that re-sending partial blocks costs little (≤ one block per
 * parallel writer), large enough that hashing them remotely stays at ≤ ~512 processes per file.
 */
export function blockSizeFor(size: number): number {
  const perBlock = Math.ceil(size / 512 / (64 * KiB)) * 64 * KiB;
  return Math.max(128 * KiB, perBlock);
}

export function blockCount(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}

/** The ranges to (re)send: blocks whose remote hash is missing or differs, merged when adjacent. */
export function rangesToResend(
  size: number,
  blockSize: number,
  localBlocks: readonly string[],
  remoteBlocks: readonly (string | undefined)[],
): ByteRange[] {
  const out: ByteRange[] = [];
  const n = blockCount(size, blockSize);
  for (let i = 0; i < n; i++) {
    if (remoteBlocks[i] !== undefined && remoteBlocks[i] === localBlocks[i]) continue;
    const start = i * blockSize;
    const end = Math.min(size, start + blockSize);
    const last = out[out.length - 1];
    if (last && last.end === start) last.end = end;
    else out.push({ start, end });
  }
  return out;
}

export function rangeBytes(ranges: readonly ByteRange[]): number {
  return ranges.reduce((sum, r) => sum + (r.end - r.start), 0);
}

/**
 * How big one piece of work is: ~16 per channel, so files complete one after another (each is hashed on the
 * server as soon as it is complete, overlapping the rest of the upload) and channels end together; at least
 * 4 MiB so that open/close round trips stay negligible.
 */
export function pieceSizeFor(totalBytes: number, channels: number): number {
  const target = Math.ceil(totalBytes / (channels * 16));
  return Math.min(64 * MiB, Math.max(4 * MiB, target));
}

export interface Piece<F> {
  file: F;
  start: number;
  end: number;
  /** This piece is the whole file: it may be opened with truncate. */
  whole: boolean;
}

/**
 * Splits each file's ranges into pieces of at most `pieceSize`: largest file first, each file in offset order,
 * so the big files finish (and get verified) early and the small ones fill the tail.
 */
export function splitPieces<F>(
  items: readonly { file: F; size: number; ranges: readonly ByteRange[] }[],
  pieceSize: number,
): Piece<F>[] {
  const pieces: Piece<F>[] = [];
  for (const it of [...items].sort((a, b) => b.size - a.size)) {
    for (const r of it.ranges) {
      for (let s = r.start; s < r.end || (s === r.start && r.start === r.end); s += pieceSize) {
        const end = Math.min(r.end, s + pieceSize);
        pieces.push({
          file: it.file,
          start: s,
          end,
          whole: s === 0 && end === it.size && it.ranges.length === 1,
        });
        if (end === s) break; // an empty file: one empty piece creates it
      }
    }
  }
  return pieces;
}

/** A round trip below this is a local link: one channel (see chooseParallelism). */
export const LOCAL_RTT_MS = 5;

/**
 * How many SFTP channels to use. Below 5 ms of round trip the CPU (encryption on both ends, ssh2's per-packet
 * work in node) is the limit and more channels only add contention (measured on loopback: 1 channel 1.23 s,
 * 2 channels 1.54 s for 201 MB); lanes still overlap small files. On a long path each channel is bound by its
 * window (2 MiB per OpenSSH channel ⇒ 2 MiB / RTT), so channels scale with the round trip: one per 8 ms.
 */
export function chooseParallelism(rttMs: number, totalBytes: number, fileCount: number): number {
  if (totalBytes < 2 * MiB && fileCount <= 4) return 1;
  if (rttMs < LOCAL_RTT_MS) return 1;
  return Math.min(16, Math.max(2, Math.ceil(rttMs / 8)));
}

/** The engine's `parallel` option as an explicit channel count 1–64, or undefined for "auto" (the CLI flag's text is cli/deploy.ts parseParallel). */
export function channelCountOf(value: number | "auto" | undefined): number | undefined {
  if (value === undefined || value === "auto") return undefined;
  if (!Number.isInteger(value) || value < 1 || value > 64) {
    throw new OdapiError(
      `--parallel ${value} is not allowed`,
      'pass "auto" (the default: chosen from the measured round trip) or a channel count from 1 to 64',
      "usage",
    );
  }
  return value;
}

/** Every dir and its ancestors ("a/b/c" → a, a/b, a/b/c), grouped by depth, shallowest first. */
export function dirLevels(dirs: readonly string[]): string[][] {
  const all = new Set<string>();
  for (const d of dirs) {
    if (d === "." || d === "") continue;
    const parts = d.split("/");
    for (let i = 1; i <= parts.length; i++) all.add(parts.slice(0, i).join("/"));
  }
  const byDepth = new Map<number, string[]>();
  for (const d of [...all].sort()) {
    const depth = d.split("/").length;
    byDepth.set(depth, [...(byDepth.get(depth) ?? []), d]);
  }
  return [...byDepth.keys()].sort((a, b) => a - b).map((k) => byDepth.get(k) as string[]);
}
