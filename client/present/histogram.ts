// The benchmark's latency histogram picture: a pure layout of bars, markers and labels, then jimp draws it.
import { Jimp } from "jimp";
import { writeFileAtomic } from "../../common/files";
import type { PixelBox } from "../detections";
import { type Histogram, histogramBins, type LatencySummary } from "../stats";
import { font } from "./fonts";
import { fillRect, type Rgb } from "./raster";

export interface Series {
  name: string;
  latencies: number[];
  summary: LatencySummary;
}

export interface ChartText {
  x: number;
  y: number;
  text: string;
}

export interface ChartPlan {
  width: number;
  height: number;
  plot: PixelBox;
  rects: { box: PixelBox; color: Rgb }[];
  texts: ChartText[];
  histograms: Histogram[];
}

const SERIES_COLORS: readonly Rgb[] = [
  [0, 110, 200],
  [230, 90, 30],
  [40, 150, 70],
  [150, 50, 180],
  [200, 40, 80],
  [90, 90, 90],
];
const AXIS: Rgb = [40, 40, 40];
const GRID: Rgb = [225, 225, 225];

export function seriesColor(i: number): Rgb {
  return SERIES_COLORS[i % SERIES_COLORS.length];
}

const fmt = (ms: number) =>
  !Number.isFinite(ms) ? "-" : ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);

/**
 * Layout (pure): side-by-side bars per bin (one colour per model), p50 and p99 markers as thin vertical
 * lines in the model's colour, x ticks in ms, and a legend line per model with its percentiles.
 */
export function histogramPlan(series: Series[], title: string, width = 900, height = 480): ChartPlan {
  const legendHeight = 20 * series.length;
  const plot: PixelBox = { left: 60, top: 60 + legendHeight, right: width - 20, bottom: height - 40 };
  const histograms = histogramBins(
    series.map((s) => s.latencies),
    40,
  );
  const rects: ChartPlan["rects"] = [];
  const texts: ChartText[] = [{ x: 10, y: 8, text: title }];
  const plotW = plot.right - plot.left;
  const plotH = plot.bottom - plot.top;
  const h0 = histograms[0];
  const bins = h0?.counts.length ?? 0;
  const maxCount = Math.max(1, ...histograms.flatMap((h) => h.counts));

  // Horizontal grid lines at quarters of the highest bar, labelled with the count.
  for (let q = 1; q <= 4; q++) {
    const y = Math.round(plot.bottom - (plotH * q) / 4);
    rects.push({ box: { left: plot.left, top: y, right: plot.right, bottom: y + 1 }, color: GRID });
    texts.push({ x: 4, y: y - 6, text: String(Math.round((maxCount * q) / 4)) });
  }
  if (bins > 0 && h0) {
    const binW = plotW / bins;
    const barW = Math.max(1, Math.floor((binW - 2) / series.length));
    histograms.forEach((h, si) => {
      h.counts.forEach((c, b) => {
        if (c === 0) return;
        const left = Math.round(plot.left + b * binW + 1 + si * barW);
        const top = Math.round(plot.bottom - (plotH * c) / maxCount);
        rects.push({ box: { left, top, right: left + barW, bottom: plot.bottom }, color: seriesColor(si) });
      });
    });
    const xOf = (ms: number) => Math.round(plot.left + ((ms - h0.start) / (h0.binWidth * bins)) * plotW);
    series.forEach((s, si) => {
      for (const p of [s.summary.p50, s.summary.p99]) {
        if (!Number.isFinite(p)) continue;
        const x = Math.min(plot.right - 1, xOf(p));
        rects.push({
          box: { left: x, top: plot.top, right: x + 1, bottom: plot.bottom },
          color: seriesColor(si),
        });
      }
    });
    const tickEvery = Math.max(1, Math.ceil(bins / 8));
    for (let b = 0; b <= bins; b += tickEvery) {
      const x = Math.round(plot.left + b * binW);
      rects.push({ box: { left: x, top: plot.bottom, right: x + 1, bottom: plot.bottom + 5 }, color: AXIS });
      texts.push({
        x: x - 8,
        y: plot.bottom + 8,
        text: String(Number((h0.start + b * h0.binWidth).toPrecision(6))),
      });
    }
  }
  texts.push({ x: plot.right - 90, y: plot.bottom + 22, text: "latency (ms)" });
  texts.push({ x: 4, y: plot.top - 26, text: "requests" });
  // Axes last so bars never cover them.
  rects.push({
    box: { left: plot.left, top: plot.bottom, right: plot.right, bottom: plot.bottom + 1 },
    color: AXIS,
  });
  rects.push({
    box: { left: plot.left - 1, top: plot.top, right: plot.left, bottom: plot.bottom + 1 },
    color: AXIS,
  });
  series.forEach((s, si) => {
    const y = 30 + si * 20;
    rects.push({ box: { left: 12, top: y + 3, right: 26, bottom: y + 15 }, color: seriesColor(si) });
    const m = s.summary;
    texts.push({
      x: 32,
      y,
      text: `${s.name}: p50 ${fmt(m.p50)} ms  p95 ${fmt(m.p95)} ms  p99 ${fmt(m.p99)} ms  mean ${fmt(m.mean)} ms  (n=${m.count}; lines: p50, p99)`,
    });
  });
  return { width, height, plot, rects, texts, histograms };
}

/** Draws the plan on a white canvas and writes a PNG. */
export async function writeHistogram(plan: ChartPlan, outFile: string): Promise<void> {
  const img = new Jimp({ width: plan.width, height: plan.height, color: 0xffffffff });
  for (const r of plan.rects) fillRect(img.bitmap, r.box, r.color);
  const f = await font("SANS_14_BLACK");
  for (const t of plan.texts) img.print({ font: f, x: Math.max(0, t.x), y: Math.max(0, t.y), text: t.text });
  await writeFileAtomic(outFile, await img.getBuffer("image/png"));
}
