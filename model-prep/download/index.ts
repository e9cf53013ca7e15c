// Catalog downloads: the SavedModel for a model name from the local cache (cache.ts), downloaded with resume
// (http.ts), its sha256 recorded once and checked on every reuse (checksum.ts), extracted (extract.ts).
import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { type CachePaths, cachePaths, defaultCacheDir } from "./cache";
import { lockCacheEntry } from "./cache-lock";
import { checkOrRecordSha } from "./checksum";
import { extract } from "./extract";
import { type DownloadOptions, downloadToCache } from "./http";

export { defaultCacheDir } from "./cache";

export interface FetchOptions extends DownloadOptions {
  cacheDir?: string;
  /** Download again even when the cache holds the archive (e.g. after a checksum mismatch). */
  refresh?: boolean;
}

export interface FetchResult {
  savedModelDir: string;
  sha256: string;
  /** True when nothing was downloaded. */
  fromCache: boolean;
  /** True when a partial download was continued. */
  resumed: boolean;
  downloadedBytes: number;
}

/** The SavedModel for `name` from the cache, downloading and extracting it when needed. */
export async function fetchModel(name: string, url: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const paths = cachePaths(opts.cacheDir ?? defaultCacheDir(), name);
  await mkdir(paths.dir, { recursive: true });
  const release = await lockCacheEntry(paths.dir, name);
  try {
    return await fetchLocked(name, url, paths, opts);
  } finally {
    await release();
  }
}

async function fetchLocked(
  name: string,
  url: string,
  paths: CachePaths,
  opts: FetchOptions,
): Promise<FetchResult> {
  let fresh = false;
  let resumed = false;
  let downloadedBytes = 0;
  if (opts.refresh) await rm(paths.archive, { force: true });
  if (!existsSync(paths.archive)) {
    opts.log?.(`downloading ${name} from ${url}`);
    ({ resumed, downloadedBytes } = await downloadToCache(url, paths, opts));
    fresh = true;
  }
  const sha256 = await checkOrRecordSha(paths, fresh);
  const extractedFrom = existsSync(paths.extractedFrom)
    ? (await readFile(paths.extractedFrom, "utf8")).trim()
    : "";
  if (fresh || extractedFrom !== sha256 || !existsSync(path.join(paths.savedModel, "saved_model.pb"))) {
    opts.log?.(`extracting ${name}`);
    await extract(paths, sha256);
  }
  return { savedModelDir: paths.savedModel, sha256, fromCache: !fresh, resumed, downloadedBytes };
}
