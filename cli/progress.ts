// Progress for long byte transfers: a live bar (bytes, rate, ETA) on a TTY, sparse plain lines otherwise.
import type { SingleBar as Bar } from "cli-progress";
import { formatBytes } from "../common/format";
import type { ByteProgress } from "../common/rate-meter";

export type { ByteProgress } from "../common/rate-meter";

export interface ProgressReporter {
  update(p: ByteProgress): void;
  /** Prints a line without tearing the bar. */
  log(line: string): void;
  stop(): void;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** Seconds left at the current rate, as "1m05s", "42s" or "--" when unknown. */
export function formatEta(p: ByteProgress): string {
  if (p.bytesPerSecond <= 0 || p.sentBytes >= p.totalBytes) return p.sentBytes >= p.totalBytes ? "0s" : "--";
  const s = Math.ceil((p.totalBytes - p.sentBytes) / p.bytesPerSecond);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

export function percent(p: ByteProgress): number {
  return p.totalBytes > 0 ? Math.min(100, Math.floor((p.sentBytes * 100) / p.totalBytes)) : 100;
}

/** `upload  37% 74.0 MiB / 200 MiB  11.2 MiB/s  ETA 12s` (pure). */
export function progressLine(label: string, p: ByteProgress): string {
  return `${label} ${String(percent(p)).padStart(3)}% ${formatBytes(p.sentBytes)} / ${formatBytes(p.totalBytes)}  ${formatRate(p.bytesPerSecond)}  ETA ${formatEta(p)}`;
}

/** Plain (non-TTY) output prints at most one line per 10 % step or 10 s, whichever comes first, and the end. */
export function shouldPrintPlain(
  last: { percent: number; at: number } | undefined,
  p: ByteProgress,
  now: number,
): boolean {
  if (!last) return true;
  const pc = percent(p);
  if (pc === 100 && last.percent !== 100) return true;
  return pc >= last.percent + 10 || now - last.at >= 10_000;
}

/** A reporter writing to `stream` (stderr by default, so `--json` stdout stays clean); silent when disabled. */
export function createProgress(
  label: string,
  opts: { stream?: NodeJS.WriteStream; enabled?: boolean; tty?: boolean; now?: () => number } = {},
): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? Date.now;
  if (opts.enabled === false) return { update: () => undefined, log: () => undefined, stop: () => undefined };
  if (opts.tty ?? stream.isTTY) {
    // Loaded only for a terminal: --json and piped runs (scripts, Pulumi) skip its 16 modules.
    const { SingleBar } = require("cli-progress") as { SingleBar: typeof Bar };
    const bar = new SingleBar({
      stream,
      format: `${label} [{bar}] {percentage}% | {sentText} / {totalText} | {rateText} | ETA {etaText}`,
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 20,
    });
    let started = false;
    return {
      update: (p) => {
        // Not `total`/`value`/`eta`: cli-progress fills those tokens itself (raw numbers).
        const payload = {
          sentText: formatBytes(p.sentBytes),
          totalText: formatBytes(p.totalBytes),
          rateText: formatRate(p.bytesPerSecond),
          etaText: formatEta(p),
        };
        if (!started) {
          bar.start(Math.max(1, p.totalBytes), p.sentBytes, payload);
          started = true;
        } else bar.update(p.sentBytes, payload);
      },
      log: (line) => {
        if (started) bar.stop();
        stream.write(`${line}\n`);
        started = false;
      },
      stop: () => {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  let last: { percent: number; at: number } | undefined;
  return {
    update: (p) => {
      if (!shouldPrintPlain(last, p, now())) return;
      last = { percent: percent(p), at: now() };
      stream.write(`${progressLine(label, p)}\n`);
    },
    log: (line) => {
      stream.write(`${line}\n`);
    },
    stop: () => undefined,
  };
}
