// What the user reads: tables for detections and benchmarks, and the one JSON document of a run (pure).
import Table from "cli-table3";
import pc from "picocolors";
import type { BenchResult } from "../bench";
import { type LabelledDetection, TABLE_HEAD, tableRows } from "../detections";
import type { ImageFormat } from "../image";

export interface ImageResult {
  path: string;
  format: ImageFormat;
  width: number;
  height: number;
  latencyMs: number;
  /** Detections above the threshold; `total` counts all the model returned. */
  detections: LabelledDetection[];
  total: number;
  annotated: string;
}

export interface ModelCheck {
  name: string;
  versions: string[];
  input: string;
}

export interface DetectReport {
  /** False when the server refused an image (the others are still reported). */
  ok: boolean;
  mode: "detect";
  url: string;
  source: string;
  minScore: number;
  /** The server's refusals (bad requests), each naming its file. */
  refused: string[];
  models: (ModelCheck & { images: ImageResult[] })[];
}

export interface BenchReport {
  ok: boolean;
  mode: "bench";
  /** Stopped by Ctrl-C: the numbers cover the requests made until then. */
  interrupted: boolean;
  url: string;
  source: string;
  images: string[];
  /** The server's refusals (bad requests), each naming its files, left out of the run. */
  refused: string[];
  models: (ModelCheck & { bench: Omit<BenchResult, "latencies"> })[];
  report: string;
  histogram: string;
}

const plain = { head: [] as string[], border: [] as string[], compact: true };

export function detectionTable(detections: LabelledDetection[]): string {
  const table = new Table({
    head: TABLE_HEAD.map((h) => pc.bold(h)),
    style: plain,
    colAligns: ["right", "left", "right", "left", "right"],
  });
  const rows = tableRows(detections);
  if (rows.length === 0)
    table.push([{ colSpan: TABLE_HEAD.length, content: "no detections at or above --min-score" }]);
  rows.forEach((r, i) => {
    const score = detections[i].score;
    // Colour only on a terminal (picocolors checks); the text itself is what tests and pipes see.
    const paint = score >= 0.8 ? pc.green : score >= 0.5 ? pc.yellow : pc.dim;
    table.push([r[0], pc.bold(r[1]), paint(r[2]), r[3], r[4]]);
  });
  return table.toString();
}

export function modelLine(m: ModelCheck): string {
  return `${pc.green("✔")} ${pc.bold(m.name)}  version ${m.versions.join(", ")} AVAILABLE · serving_default takes ${m.input} (DT_STRING)`;
}

/** "[2/5] " when a run has several requests to make, so a long run shows how far it is (pure). */
export function progressPrefix(done: number, total: number): string {
  return total > 1 ? `[${done}/${total}] ` : "";
}

export function imageHeading(model: string, r: ImageResult, minScore: number, prefix = ""): string {
  return `${prefix}${pc.bold(r.path)}  ${r.width}×${r.height} ${r.format} → ${model}: ${r.detections.length} of ${r.total} detections ≥ ${minScore.toFixed(2)} · ${r.latencyMs.toFixed(0)} ms`;
}

/** One cell per image and model: how many detections, the best one, and the request time (pure). */
export function comparisonRows(report: DetectReport): string[][] {
  const first = report.models[0]?.images ?? [];
  return first.map((img) => [
    img.path,
    ...report.models.map((m) => {
      const r = m.images.find((x) => x.path === img.path);
      if (!r) return "refused";
      const best = r.detections[0];
      const top = best ? `${best.label} ${best.score.toFixed(2)}` : "none";
      return `${r.detections.length} · ${top} · ${r.latencyMs.toFixed(0)} ms`;
    }),
  ]);
}

export function comparisonTable(report: DetectReport): string {
  const table = new Table({
    head: ["image", ...report.models.map((m) => m.name)].map((h) => pc.bold(h)),
    style: plain,
  });
  for (const row of comparisonRows(report)) table.push(row);
  return table.toString();
}

/** The closing line of a detect run (pure). */
export function detectSummary(report: DetectReport, out: string): string {
  const results = report.models.flatMap((m) => m.images);
  const mean = results.reduce((s, r) => s + r.latencyMs, 0) / Math.max(1, results.length);
  const found = results.reduce((s, r) => s + r.detections.length, 0);
  const images = report.models[0]?.images.length ?? 0;
  return `${pc.green("✔")} ${images} image(s) × ${report.models.length} model(s): ${found} detection(s) shown, mean ${mean.toFixed(0)} ms per request; annotated copies in ${out}`;
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "–");

export function benchTable(results: BenchResult[]): string {
  const table = new Table({
    head: [
      "model",
      "ok",
      "errors",
      "req/s",
      "images/s",
      "p50 ms",
      "p95 ms",
      "p99 ms",
      "mean ms",
      "max ms",
    ].map((h) => pc.bold(h)),
    style: plain,
    colAligns: ["left", "right", "right", "right", "right", "right", "right", "right", "right", "right"],
  });
  for (const r of results) {
    table.push([
      r.model,
      String(r.ok),
      r.errors ? pc.red(String(r.errors)) : "0",
      r.requestsPerSecond.toFixed(1),
      r.imagesPerSecond.toFixed(1),
      ms(r.latencyMs.p50),
      ms(r.latencyMs.p95),
      ms(r.latencyMs.p99),
      ms(r.latencyMs.mean),
      ms(r.latencyMs.max),
    ]);
  }
  return table.toString();
}

/** A bench result without the raw latency list (that goes to the report file only). */
export function benchSummary(r: BenchResult): Omit<BenchResult, "latencies"> {
  const { latencies: _omit, ...rest } = r;
  return rest;
}

/** File name of an annotated copy: `<stem>.<model>.png`, with anything unsafe in the model name replaced (pure). */
export function annotatedName(imagePath: string, model: string): string {
  const base = imagePath.split(/[\\/]/).pop() ?? "image";
  const stem = base.replace(/\.[^.]+$/, "") || "image";
  return `${stem}.${model.replace(/[^A-Za-z0-9._-]/g, "_")}.png`;
}

/** `name`, or `stem-2.ext`, `stem-3.ext`… when this run already wrote that name (pure apart from `used`). */
export function uniqueName(name: string, used: Set<string>): string {
  let candidate = name;
  for (let n = 2; used.has(candidate); n++) candidate = name.replace(/(\.png)$/, `-${n}$1`);
  used.add(candidate);
  return candidate;
}

/** Timestamp for report files that sorts and is safe in file names (pure). */
export function stamp(d: Date): string {
  return d.toISOString().replace(/[:.]/g, "-");
}
