// Download progress: a cli-progress bar (bytes, rate, ETA) on a terminal, a line every few seconds otherwise.
import { SingleBar } from "cli-progress";

export interface ByteProgress {
  receivedBytes: number;
  /** Unknown when the server sends no Content-Length. */
  totalBytes?: number;
  bytesPerSecond: number;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** Seconds left at the current rate, or undefined when it cannot be known. */
export function etaSeconds(p: ByteProgress): number | undefined {
  if (p.totalBytes === undefined || p.bytesPerSecond <= 0) return undefined;
  return Math.max(0, Math.ceil((p.totalBytes - p.receivedBytes) / p.bytesPerSecond));
}

/** "12.0 MiB / 40.0 MiB, 5.0 MiB/s, ETA 6 s" — the non-TTY progress line. */
export function progressLine(label: string, p: ByteProgress): string {
  const of = p.totalBytes === undefined ? "" : ` / ${formatBytes(p.totalBytes)}`;
  const eta = etaSeconds(p);
  return `${label}: ${formatBytes(p.receivedBytes)}${of}, ${formatBytes(p.bytesPerSecond)}/s${eta === undefined ? "" : `, ETA ${eta} s`}`;
}

/** Tracks a smoothed transfer rate over a sliding window of samples. */
export class RateMeter {
  private samples: { t: number; bytes: number }[] = [];
  constructor(private readonly windowMs = 5000) {}

  update(bytes: number, now = Date.now()): number {
    this.samples.push({ t: now, bytes });
    while (this.samples.length > 2 && now - this.samples[0].t > this.windowMs) this.samples.shift();
    const first = this.samples[0];
    const dt = (now - first.t) / 1000;
    return dt > 0 ? (bytes - first.bytes) / dt : 0;
  }
}

export interface ProgressSink {
  update(p: ByteProgress): void;
  stop(): void;
}

/** A progress display for one download: a bar on a TTY stream, else a line at most every `everyMs`. */
export function progressSink(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
  everyMs = 5000,
): ProgressSink {
  if (stream.isTTY) {
    const bar = new SingleBar({
      stream,
      format: `${label} [{bar}] {percentage}% | {got} / {all} | {rate}/s | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    });
    let started = false;
    return {
      update(p) {
        const payload = {
          got: formatBytes(p.receivedBytes),
          all: p.totalBytes === undefined ? "?" : formatBytes(p.totalBytes),
          rate: formatBytes(p.bytesPerSecond),
        };
        if (!started) {
          bar.start(p.totalBytes ?? 0, p.receivedBytes, payload);
          started = true;
        } else {
          if (p.totalBytes !== undefined) bar.setTotal(p.totalBytes);
          bar.update(p.receivedBytes, payload);
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = 0;
  let latest: ByteProgress | undefined;
  return {
    update(p) {
      latest = p;
      const now = Date.now();
      if (now - last >= everyMs) {
        last = now;
        stream.write(`${progressLine(label, p)}\n`);
      }
    },
    stop() {
      if (latest) stream.write(`${progressLine(label, latest)}\n`);
    },
  };
}
