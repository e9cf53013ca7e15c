// The one rate meter: bytes per second over a sliding window of recent samples, so a stall shows quickly instead of
// being averaged away, and the start is steadier than total / elapsed.

export class RateMeter {
  private samples: { t: number; bytes: number }[] = [];

  /** windowMs: how far back the rate looks (a download uses 5 s, an upload 2 s). */
  constructor(private readonly windowMs: number) {}

  /** Records the running total at time `now` (ms) and returns the rate over the window. */
  update(totalBytes: number, now = Date.now()): number {
    this.samples.push({ t: now, bytes: totalBytes });
    while (this.samples.length > 2 && now - (this.samples[1] as { t: number }).t >= this.windowMs)
      this.samples.shift();
    const first = this.samples[0] as { t: number; bytes: number };
    const dt = now - first.t;
    return dt > 0 ? ((totalBytes - first.bytes) * 1000) / dt : 0;
  }
}

/** How far a byte transfer is (an upload, a publish): what progress bars and --json lines show. */
export interface ByteProgress {
  sentBytes: number;
  totalBytes: number;
  bytesPerSecond: number;
}
