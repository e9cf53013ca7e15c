// Pure decisions on detection results: parse the predict response, convert boxes to pixels, filter, tabulate.
import { OdapiError } from "../common/errors";
import { cocoLabel } from "./coco-labels";

/** One detection as the model emits it: box normalised [ymin, xmin, ymax, xmax] in 0..1. */
export interface Detection {
  classId: number;
  score: number;
  box: [number, number, number, number];
}

/** A box in whole pixels of the original image, x/y of the top-left and bottom-right corners (inclusive-exclusive). */
export interface PixelBox {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface LabelledDetection {
  classId: number;
  label: string;
  score: number;
  box: PixelBox;
}

function unexpected(what: string): OdapiError {
  return new OdapiError(
    `unexpected predict response: ${what}`,
    "the model's serving_default must return detection_boxes, detection_scores, detection_classes and num_detections (prepare it with `odapi prepare`)",
    "serverError",
  );
}

function numberArray(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "number"))
    throw unexpected(`${what} is not a list of numbers`);
  return v as number[];
}

/**
 * Detections per image from a row-format response `{"predictions": [{detection_boxes, …}, …]}`,
 * honouring num_detections (models pad their fixed-size outputs with zeros).
 */
export function parseDetections(response: unknown, imageCount: number): Detection[][] {
  const predictions = (response as { predictions?: unknown })?.predictions;
  if (!Array.isArray(predictions)) throw unexpected('no "predictions" list');
  if (predictions.length !== imageCount) {
    throw unexpected(`${predictions.length} predictions for ${imageCount} images`);
  }
  return predictions.map((p, i) => {
    if (!p || typeof p !== "object") throw unexpected(`prediction ${i} is not an object of named outputs`);
    const row = p as Record<string, unknown>;
    const scores = numberArray(row.detection_scores, `detection_scores of image ${i}`);
    const classes = numberArray(row.detection_classes, `detection_classes of image ${i}`);
    const boxes = row.detection_boxes;
    if (!Array.isArray(boxes)) throw unexpected(`detection_boxes of image ${i} is not a list`);
    const declared = typeof row.num_detections === "number" ? Math.round(row.num_detections) : scores.length;
    const n = Math.min(declared, scores.length, classes.length, boxes.length);
    const out: Detection[] = [];
    for (let k = 0; k < n; k++) {
      const b = numberArray(boxes[k], `detection_boxes[${k}] of image ${i}`);
      if (b.length !== 4)
        throw unexpected(`detection_boxes[${k}] of image ${i} has ${b.length} values, not 4`);
      out.push({ classId: Math.round(classes[k]), score: scores[k], box: [b[0], b[1], b[2], b[3]] });
    }
    return out;
  });
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

/** Normalised [ymin, xmin, ymax, xmax] → pixel corners of a width×height image, clamped to the image (pure). */
export function toPixelBox(
  box: readonly [number, number, number, number],
  width: number,
  height: number,
): PixelBox {
  const [ymin, xmin, ymax, xmax] = box.map(clamp01);
  return {
    left: Math.round(xmin * width),
    top: Math.round(ymin * height),
    right: Math.round(xmax * width),
    bottom: Math.round(ymax * height),
  };
}

/** Detections at or above minScore, best first, with label names and pixel boxes (pure). */
export function labelDetections(
  detections: Detection[],
  size: { width: number; height: number },
  minScore: number,
): LabelledDetection[] {
  return detections
    .filter((d) => d.score >= minScore)
    .sort((a, b) => b.score - a.score)
    .map((d) => ({
      classId: d.classId,
      label: cocoLabel(d.classId),
      score: d.score,
      box: toPixelBox(d.box, size.width, size.height),
    }));
}

export const TABLE_HEAD = ["#", "label", "score", "box (left, top) → (right, bottom) px", "size px"];

/** Table rows for one image's detections (pure; strings so the table and tests see the same text). */
export function tableRows(detections: LabelledDetection[]): string[][] {
  return detections.map((d, i) => [
    String(i + 1),
    `${d.label} (${d.classId})`,
    d.score.toFixed(3),
    `(${d.box.left}, ${d.box.top}) → (${d.box.right}, ${d.box.bottom})`,
    `${d.box.right - d.box.left}×${d.box.bottom - d.box.top}`,
  ]);
}
