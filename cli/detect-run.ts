// The detect run: every image through every checked model, a table and an annotated copy each, then a summary.
import path from "node:path";
import pc from "picocolors";
import { predict } from "../client/api";
import { labelDetections, parseDetections } from "../client/detections";
import { imageRefusedError } from "../client/image";
import { writeAnnotated } from "../client/present/annotate";
import {
  annotatedName,
  comparisonTable,
  type DetectReport,
  detectionTable,
  detectSummary,
  type ImageResult,
  imageHeading,
  progressPrefix,
  uniqueName,
} from "../client/present/report";
import { predictRequestBody } from "../client/request";
import { ExitCode, isOdapiError } from "../common/errors";
import type { ClientOptions } from "./client-options";
import { type ClientIo, type OpenTarget, openTarget, requestAuth } from "./client-target";
import { ReportedFailure } from "./run-cli";

async function detectAll(opts: ClientOptions, { target: t, images, checks }: OpenTarget, io: ClientIo) {
  const report: DetectReport = {
    ok: true,
    mode: "detect",
    url: t.url,
    source: t.source,
    minScore: opts.minScore,
    refused: [],
    models: [],
  };
  let done = 0;
  const used = new Set<string>(); // two photos named a.jpg in different folders must not overwrite each other
  const refused = new Set<string>(); // files the server refused: named once, not sent again to the other models
  for (const check of checks) {
    const results: ImageResult[] = [];
    for (const img of images) {
      if (refused.has(img.path)) continue;
      const t0 = performance.now();
      let response: unknown;
      try {
        response = await predict(t.url, check.name, predictRequestBody([img.bytes]), {
          ...requestAuth(t),
          timeoutMs: opts.timeoutMs,
        });
      } catch (e) {
        // A bad image (e.g. a truncated JPEG) is this file's problem: name it and go on with the others.
        if (!isOdapiError(e) || e.exitCode !== ExitCode.badRequest) throw e;
        const err = imageRefusedError(img.path, e);
        refused.add(img.path);
        report.ok = false;
        report.refused.push(err.message);
        io.err(`error: ${err.message}\n  fix: ${err.remedy}\n`);
        continue;
      }
      const latencyMs = performance.now() - t0;
      const [raw] = parseDetections(response, 1);
      const detections = labelDetections(raw, img, opts.minScore);
      const annotated = path.join(opts.out, uniqueName(annotatedName(img.path, check.name), used));
      await writeAnnotated(img.bytes, detections, annotated);
      const r: ImageResult = {
        path: img.path,
        format: img.format,
        width: img.width,
        height: img.height,
        latencyMs,
        detections,
        total: raw.length,
        annotated,
      };
      results.push(r);
      if (!opts.json) {
        const prefix = progressPrefix(++done, checks.length * images.length);
        io.out(`\n${imageHeading(check.name, r, opts.minScore, prefix)}\n${detectionTable(detections)}\n`);
        io.out(`annotated → ${pc.cyan(annotated)}\n`);
      }
    }
    report.models.push({ ...check, images: results });
  }
  return report;
}

/** `odapi detect`: check the models, detect on every image, print tables or one JSON document. */
export async function runDetect(opts: ClientOptions, io: ClientIo): Promise<void> {
  const report = await detectAll(opts, await openTarget(opts, io), io);
  if (opts.json) io.out(`${JSON.stringify(report, null, 2)}\n`);
  else {
    if (report.models.length > 1) io.out(`\n${pc.bold("models side by side")}\n${comparisonTable(report)}\n`);
    io.out(`\n${detectSummary(report, opts.out)}\n`);
  }
  if (report.refused.length > 0) {
    io.err(
      `error: ${report.refused.length} image(s) refused by the server (named above); the others were detected\n`,
    );
    throw new ReportedFailure(ExitCode.badRequest);
  }
}
