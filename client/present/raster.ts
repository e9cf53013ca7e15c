// Tiny raster helpers on a jimp bitmap (RGBA bytes): filled rectangles and box outlines.
import type { PixelBox } from "../detections";

export type Rgb = readonly [number, number, number];

export interface Bitmap {
  width: number;
  height: number;
  data: Buffer;
}

/** Fills the rectangle [left,right) × [top,bottom), clipped to the bitmap. */
export function fillRect(bitmap: Bitmap, r: PixelBox, color: Rgb): void {
  const { width, height, data } = bitmap;
  const x0 = Math.max(0, Math.round(r.left));
  const x1 = Math.min(width, Math.round(r.right));
  const y0 = Math.max(0, Math.round(r.top));
  const y1 = Math.min(height, Math.round(r.bottom));
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * width + x) * 4;
      data[i] = color[0];
      data[i + 1] = color[1];
      data[i + 2] = color[2];
      data[i + 3] = 255;
    }
  }
}

/** An outline of thickness t drawn inside the box's edges, so it never spills outside the box. */
export function strokeRect(bitmap: Bitmap, b: PixelBox, color: Rgb, t: number): void {
  fillRect(
    bitmap,
    { left: b.left, top: b.top, right: b.right, bottom: Math.min(b.bottom, b.top + t) },
    color,
  );
  fillRect(
    bitmap,
    { left: b.left, top: Math.max(b.top, b.bottom - t), right: b.right, bottom: b.bottom },
    color,
  );
  fillRect(
    bitmap,
    { left: b.left, top: b.top, right: Math.min(b.right, b.left + t), bottom: b.bottom },
    color,
  );
  fillRect(
    bitmap,
    { left: Math.max(b.left, b.right - t), top: b.top, right: b.right, bottom: b.bottom },
    color,
  );
}
