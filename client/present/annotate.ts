// The annotated picture: a pure drawing plan (boxes, colours per class, label placement), then jimp renders it.

import { writeFileAtomic } from "../../common/files";
import type { LabelledDetection, PixelBox } from "../detections";
import { decodeImage } from "./decode";
import { type FontName, font, metricsOf } from "./fonts";
import { fillRect, type Rgb, strokeRect } from "./raster";

export type { Rgb };

// Saturated colours that stay readable with white text on them; a class keeps its colour across images.
const PALETTE: readonly Rgb[] = [
  [230, 25, 75],
  [60, 140, 60],
  [0, 110, 200],
  [245, 130, 48],
  [145, 30, 180],
  [0, 140, 140],
  [200, 50, 200],
  [128, 96, 0],
  [128, 0, 0],
  [0, 0, 128],
  [170, 110, 40],
  [90, 90, 90],
];

export function classColor(classId: number): Rgb {
  const i = (Math.round(classId) - 1) % PALETTE.length;
  return PALETTE[i < 0 ? i + PALETTE.length : i];
}

export interface TextMetrics {
  lineHeight: number;
  width(text: string): number;
}

export interface DrawStep {
  box: PixelBox;
  color: Rgb;
  thickness: number;
  label: string;
  /** Filled background behind the label text. */
  labelBox: PixelBox;
  textX: number;
  textY: number;
}

const PAD = 2;

/** Box outline thickness that stays visible on large photos and does not swallow small ones (pure). */
export function strokeFor(size: { width: number; height: number }): number {
  return Math.max(2, Math.round(Math.min(size.width, size.height) / 170));
}

/**
 * Where every box and label goes (pure). Labels sit above their box when there is room, inside it
 * otherwise, and are shifted left to stay inside the image. Lowest score first, so the best is drawn on top.
 */
export function drawingPlan(
  detections: LabelledDetection[],
  size: { width: number; height: number },
  text: TextMetrics,
): DrawStep[] {
  const thickness = strokeFor(size);
  return [...detections]
    .sort((a, b) => a.score - b.score)
    .map((d) => {
      const label = `${d.label} ${d.score.toFixed(2)}`;
      const w = Math.min(size.width, text.width(label) + 2 * PAD);
      const h = Math.min(size.height, text.lineHeight + 2 * PAD);
      const top = d.box.top - h >= 0 ? d.box.top - h : Math.min(d.box.top, size.height - h);
      const left = Math.max(0, Math.min(d.box.left, size.width - w));
      return {
        box: d.box,
        color: classColor(d.classId),
        thickness,
        label,
        labelBox: { left, top, right: left + w, bottom: top + h },
        textX: left + PAD,
        textY: top + PAD,
      };
    });
}

/** Bitmap font size for the image: readable on a phone photo, not covering a thumbnail (pure). */
export function fontNameFor(size: { width: number; height: number }): FontName {
  const short = Math.min(size.width, size.height);
  return short < 200 ? "SANS_8_WHITE" : short < 1400 ? "SANS_16_WHITE" : "SANS_32_WHITE";
}

/** Draws the detections onto a copy of the image and writes it as PNG; returns the plan that was drawn. */
export async function writeAnnotated(
  imageBytes: Buffer,
  detections: LabelledDetection[],
  outFile: string,
): Promise<{ steps: DrawStep[]; width: number; height: number }> {
  const img = await decodeImage(imageBytes);
  const size = { width: img.bitmap.width, height: img.bitmap.height };
  const f = await font(fontNameFor(size));
  const steps = drawingPlan(detections, size, metricsOf(f));
  for (const s of steps) {
    strokeRect(img.bitmap, s.box, s.color, s.thickness);
    fillRect(img.bitmap, s.labelBox, s.color);
    img.print({ font: f, x: s.textX, y: s.textY, text: s.label });
  }
  await writeFileAtomic(outFile, await img.getBuffer("image/png"));
  return { steps, ...size };
}
