// jimp's bundled Open Sans bitmap fonts, loaded once per process.
import { loadFont, measureText } from "jimp";

// `jimp/fonts` only resolves through package "exports", which this tsconfig's node10 resolution cannot see.
const FONT_FILES = require("jimp/fonts") as Record<FontName, string>;
export type FontName = "SANS_8_WHITE" | "SANS_16_WHITE" | "SANS_32_WHITE" | "SANS_10_BLACK" | "SANS_14_BLACK";
export type Font = Awaited<ReturnType<typeof loadFont>>;

const cache = new Map<FontName, Promise<Font>>();

export function font(name: FontName): Promise<Font> {
  const cached = cache.get(name);
  if (cached) return cached;
  const loaded = loadFont(FONT_FILES[name]);
  cache.set(name, loaded);
  return loaded;
}

export function metricsOf(f: Font): { lineHeight: number; width(text: string): number } {
  return { lineHeight: f.common.lineHeight, width: (t) => measureText(f, t) };
}
