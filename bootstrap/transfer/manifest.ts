// The bundle's files with their sha256 (local, cached by stat key: hash-cache.ts) and the remote manifest format.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { OdapiError } from "../../common/errors";
import { validateModelName } from "../../common/model-name";
import { HashCache } from "./hash-cache";
import { validateRelPath } from "./paths";

export interface BundleFile {
  /** Path under the remote dir, e.g. "models/ssd_mobilenet_v2/1/saved_model.pb". */
  relPath: string;
  size: number;
  sha256: string;
  /** Permission bits for the remote file, e.g. 0o644. */
  mode: number;
  /** Read from here… */
  localPath?: string;
  /** …or from this buffer (rendered config files, scripts). */
  content?: Buffer;
}

/** What the remote `.odapi/manifest.json` records per file: checked against size+mtime before it is believed. */
export interface ManifestEntry {
  sha256: string;
  size: number;
  /** The remote mtime exactly as `find -printf %T@` prints it. */
  mtime: string;
}

export interface Manifest {
  format: 1;
  files: Record<string, ManifestEntry>;
}

export const MANIFEST_PATH = ".odapi/manifest.json";

/** A manifest from the remote text; anything unreadable counts as no manifest (everything is then re-checked). */
export function parseManifest(text: string): Manifest {
  const empty: Manifest = { format: 1, files: {} };
  if (!text.trim()) return empty;
  try {
    const data = JSON.parse(text) as Partial<Manifest>;
    if (data.format !== 1 || typeof data.files !== "object" || data.files === null) return empty;
    const files: Record<string, ManifestEntry> = {};
    for (const [p, e] of Object.entries(data.files)) {
      if (
        e &&
        typeof e.sha256 === "string" &&
        /^[0-9a-f]{64}$/.test(e.sha256) &&
        typeof e.size === "number" &&
        typeof e.mtime === "string"
      ) {
        files[p] = { sha256: e.sha256, size: e.size, mtime: e.mtime };
      }
    }
    return { format: 1, files };
  } catch {
    return empty;
  }
}

export function serializeManifest(m: Manifest): string {
  const files: Record<string, ManifestEntry> = {};
  for (const key of Object.keys(m.files).sort()) files[key] = m.files[key] as ManifestEntry;
  return `${JSON.stringify({ format: 1, files }, null, 1)}\n`;
}

export function sha256Of(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A bundle file for generated content (configs, scripts), e.g. from serving's renderServingFiles. */
export function bundleFileFromContent(relPath: string, content: string | Buffer, mode: number): BundleFile {
  validateRelPath(relPath);
  const buf = Buffer.isBuffer(content) ? content : Buffer.from(content, "utf8");
  return { relPath, size: buf.length, sha256: sha256Of(buf), mode, content: buf };
}

/** Remote permission bits: executable stays executable, everything is readable by the serving container. */
export function remoteModeOf(localMode: number): number {
  return localMode & 0o111 ? 0o755 : 0o644;
}

/**
 * Every regular file under `dir`, depth first in name order, with a POSIX path relative to `dir` (after
 * `prefix/` when given) and its size. Follows symlinks: a linked variables file is uploaded as a file.
 */
export async function listLocalFiles(
  dir: string,
  prefix = "",
): Promise<{ abs: string; rel: string; size: number; mode: number }[]> {
  const out: { abs: string; rel: string; size: number; mode: number }[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const abs = path.join(dir, e.name);
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    const st = await stat(abs);
    if (st.isDirectory()) out.push(...(await listLocalFiles(abs, rel)));
    else if (st.isFile()) out.push({ abs, rel, size: st.size, mode: st.mode });
  }
  return out;
}

export interface ScanOptions {
  /** Hash cache file; `false` disables it. Default: defaultHashCacheFile() (hash-cache.ts). */
  cacheFile?: string | false;
}

/** A model file on disk before its sha256 is known (publish hashes it only when and where it needs it). */
export type LocalFile = Omit<BundleFile, "sha256" | "content"> & { localPath: string };

/**
 * Every file of `<modelsDir>/<name>/<version>/…` as "models/<name>/<version>/…", not yet hashed.
 * Hidden entries (e.g. a local `.staging-1`) are ignored; a non-numeric version dir or a version
 * without saved_model.pb is an error, since TF Serving would ignore or fail on it.
 */
export async function listLocalModels(modelsDir: string): Promise<LocalFile[]> {
  const root = path.resolve(modelsDir);
  const rootStat = await stat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) {
    throw new OdapiError(
      `models dir ${root} does not exist or is not a directory`,
      "pass --models DIR laid out as DIR/<model name>/<version>/saved_model.pb (model-prep writes that layout)",
      "usage",
    );
  }
  const found: { abs: string; rel: string; size: number; mode: number }[] = [];
  const names = (await readdir(root, { withFileTypes: true })).filter((e) => !e.name.startsWith("."));
  for (const nameEntry of names.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!nameEntry.isDirectory()) continue;
    validateModelName(nameEntry.name);
    const modelDir = path.join(root, nameEntry.name);
    const versions = (await readdir(modelDir, { withFileTypes: true })).filter(
      (e) => !e.name.startsWith(".") && e.isDirectory(),
    );
    if (versions.length === 0) {
      throw new OdapiError(
        `model ${nameEntry.name} has no version dir in ${modelDir}`,
        `put the SavedModel in ${path.join(modelDir, "1")} (TF Serving loads numbered version dirs)`,
        "usage",
      );
    }
    for (const v of versions) {
      if (!/^\d+$/.test(v.name)) {
        throw new OdapiError(
          `${path.join(modelDir, v.name)} is not a numbered version dir`,
          `rename it to a positive integer (e.g. ${path.join(modelDir, "1")}): TF Serving ignores other names`,
          "usage",
        );
      }
      const vDir = path.join(modelDir, v.name);
      const files = await listLocalFiles(vDir, `models/${nameEntry.name}/${v.name}`);
      if (
        !files.some(
          (f) =>
            f.rel.endsWith(`/${v.name}/saved_model.pb`) || f.rel.endsWith(`/${v.name}/saved_model.pbtxt`),
        )
      ) {
        throw new OdapiError(
          `${vDir} holds no saved_model.pb: it is not a SavedModel`,
          "prepare the model with `odapi prepare` / model-prep, or point --models at the dir that holds <name>/<version>/saved_model.pb",
          "usage",
        );
      }
      found.push(...files);
    }
  }
  if (found.length === 0) {
    throw new OdapiError(
      `no models found in ${root}`,
      "lay models out as DIR/<model name>/<version>/saved_model.pb, or deploy from the catalog with --catalog",
      "usage",
    );
  }
  return found.map((f) => {
    validateRelPath(f.rel);
    return { relPath: f.rel, size: f.size, mode: remoteModeOf(f.mode), localPath: f.abs };
  });
}

/** Every file of the models dir (listLocalModels) with its sha256, from the hash cache where its stat key holds. */
export async function scanLocalModels(modelsDir: string, opts: ScanOptions = {}): Promise<BundleFile[]> {
  const files = await listLocalModels(modelsDir);
  const cache = await HashCache.open(opts.cacheFile);
  const result: BundleFile[] = [];
  for (const f of files) result.push({ ...f, sha256: await cache.sha256(f.localPath) });
  await cache.save();
  return result;
}

/** sha256 of each `blockSize` block of a bundle file (to compare with a partial remote copy). */
export async function hashBlocks(file: BundleFile, blockSize: number): Promise<string[]> {
  if (file.content) {
    const out: string[] = [];
    for (let pos = 0; pos < file.content.length; pos += blockSize) {
      out.push(sha256Of(file.content.subarray(pos, pos + blockSize)));
    }
    return out;
  }
  return new Promise((resolve, reject) => {
    const out: string[] = [];
    let h = createHash("sha256");
    let inBlock = 0;
    const s = createReadStream(file.localPath as string, { highWaterMark: 1 << 20 });
    s.on("data", (chunk) => {
      let buf = chunk as Buffer;
      while (buf.length > 0) {
        const take = Math.min(blockSize - inBlock, buf.length);
        h.update(buf.subarray(0, take));
        inBlock += take;
        buf = buf.subarray(take);
        if (inBlock === blockSize) {
          out.push(h.digest("hex"));
          h = createHash("sha256");
          inBlock = 0;
        }
      }
    });
    s.on("error", reject);
    s.on("end", () => {
      if (inBlock > 0) out.push(h.digest("hex"));
      resolve(out);
    });
  });
}
