// Pure latency statistics for the benchmark: summary and histogram bins.
import { percentile } from "../common/stats";

export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(latencies: readonly number[]): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = n === 0 ? Number.NaN : sorted.reduce((s, v) => s + v, 0) / n;
  return {
    count: n,
    min: n ? sorted[0] : Number.NaN,
    mean,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: n ? sorted[n - 1] : Number.NaN,
  };
}

export interface Histogram {
  /** Lower edge of the first bin and the width of each bin, in ms. */
  start: number;
  binWidth: number;
  counts: number[];
}

/** A "nice" bin width (1, 2 or 5 × 10^k) so axis labels read well. */
export function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(raw));
  const f = raw / exp;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * exp;
}

/** Shared bins over all series (so several models compare on one axis), about `targetBins` of them. */
export function histogramBins(series: readonly (readonly number[])[], targetBins = 30): Histogram[] {
  const all = series.flat();
  if (all.length === 0) return series.map(() => ({ start: 0, binWidth: 1, counts: [] }));
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const binWidth = niceStep((hi - lo) / targetBins || hi / targetBins || 1);
  const start = Math.floor(lo / binWidth) * binWidth;
  const bins = Math.max(1, Math.floor((hi - start) / binWidth) + 1);
  return series.map((values) => {
    const counts = new Array<number>(bins).fill(0);
    for (const v of values) counts[Math.min(bins - 1, Math.floor((v - start) / binWidth))]++;
    return { start, binWidth, counts };
  });
}
