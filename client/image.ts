// Local image files: find them, tell a real image from anything else, and read the size from the header.
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { OdapiError, unreadableFileError } from "../common/errors";

/** The encoded formats TensorFlow's decode_image accepts (and so the prepared models). */
export type ImageFormat = "jpeg" | "png" | "gif" | "bmp";
export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".gif", ".bmp"];

export interface ImageInfo {
  format: ImageFormat;
  width: number;
  height: number;
}

export interface LocalImage extends ImageInfo {
  path: string;
  bytes: Buffer;
}

/** The format from the file's magic bytes, or undefined (pure). */
export function sniffFormat(b: Buffer): ImageFormat | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (
    b.length >= 8 &&
    b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  ) {
    return "png";
  }
  if (b.length >= 6 && (b.toString("latin1", 0, 6) === "GIF87a" || b.toString("latin1", 0, 6) === "GIF89a")) {
    return "gif";
  }
  if (b.length >= 26 && b[0] === 0x42 && b[1] === 0x4d) return "bmp";
  return undefined;
}

// JPEG start-of-frame markers carry the size (C0–CF except DHT C4, JPG C8 and DAC CC).
function jpegSize(b: Buffer): { width: number; height: number } | undefined {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2; // markers without a length
      continue;
    }
    const len = b.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    }
    i += 2 + len;
  }
  return undefined;
}

/** Format and pixel size from the header alone, or undefined when the bytes are not a supported image (pure). */
export function imageInfo(b: Buffer): ImageInfo | undefined {
  const format = sniffFormat(b);
  let size: { width: number; height: number } | undefined;
  switch (format) {
    case "jpeg":
      size = jpegSize(b);
      break;
    case "png":
      size = b.length >= 24 ? { width: b.readUInt32BE(16), height: b.readUInt32BE(20) } : undefined;
      break;
    case "gif":
      size = b.length >= 10 ? { width: b.readUInt16LE(6), height: b.readUInt16LE(8) } : undefined;
      break;
    case "bmp":
      size = { width: Math.abs(b.readInt32LE(18)), height: Math.abs(b.readInt32LE(22)) };
      break;
    default:
      return undefined;
  }
  if (!format || !size || size.width <= 0 || size.height <= 0) return undefined;
  return { format, ...size };
}

/** Which of a directory's entries are images, in a stable order (pure). */
export function imageEntries(names: string[]): string[] {
  return names.filter((n) => IMAGE_EXTENSIONS.includes(path.extname(n).toLowerCase())).sort();
}

/** Expands each argument (file or directory) into image file paths, in the order given. */
export async function collectImagePaths(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    const st = await stat(arg).catch(() => undefined);
    if (!st) {
      throw new OdapiError(
        `no such file or directory: ${arg}`,
        "pass --image with a JPEG/PNG file or a directory of them",
        "usage",
      );
    }
    if (st.isDirectory()) {
      const found = imageEntries(await readdir(arg)).map((n) => path.join(arg, n));
      if (found.length === 0) {
        throw new OdapiError(
          `no images in directory ${arg} (looked for ${IMAGE_EXTENSIONS.join(" ")})`,
          "put JPEG or PNG files there or pass --image FILE",
          "notAnImage",
        );
      }
      out.push(...found);
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** The server refused this file (e.g. a truncated JPEG): the same error (a bad request), naming the file (pure). */
export function imageRefusedError(file: string, err: Error): OdapiError {
  return new OdapiError(
    `${file}: ${err.message}`,
    err instanceof OdapiError
      ? err.remedy
      : "check that the file opens in an image viewer (a truncated or corrupt JPEG/PNG is refused)",
    "badRequest",
  );
}

/** Reads a file and refuses anything that is not a JPEG/PNG/GIF/BMP before it is sent. */
export async function loadImage(file: string): Promise<LocalImage> {
  const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => {
    const unreadable = unreadableFileError(e);
    if (unreadable) throw unreadable;
    throw new OdapiError(
      `cannot read ${file}: ${e.code ?? e.message}`,
      "check the path and its permissions",
      "usage",
    );
  });
  const info = imageInfo(bytes);
  if (!info) {
    throw new OdapiError(
      `${file} is not an image (expected JPEG, PNG, GIF or BMP; first bytes: ${bytes.subarray(0, 8).toString("hex") || "empty file"})`,
      "pass a photo in JPEG or PNG format with --image",
      "notAnImage",
    );
  }
  return { path: file, bytes, ...info };
}
