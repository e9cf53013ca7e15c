// Catalog downloads: a local cache, resume of partial downloads (HTTP Range), a sha256 recorded on the first
// download and checked on every reuse, and extraction of the tar.gz into the SavedModel prepare.py reads.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { OdapiError } from "../common/errors";
import { RateMeter } from "../common/rate-meter";

export interface DownloadProgress {
  receivedBytes: number;
  /** Unknown when the server sends no length. */
  totalBytes?: number;
  bytesPerSecond: number;
}

/** Downloads stall and resume for seconds at a time: a longer window keeps the shown rate readable. */
const DOWNLOAD_RATE_WINDOW_MS = 5000;

export interface CachePaths {
  dir: string;
  archive: string;
  part: string;
  /** ETag / Last-Modified of the response the part file came from. */
  partValidator: string;
  sha256File: string;
  /** The extracted SavedModel (the dir holding saved_model.pb). */
  savedModel: string;
  /** The archive sha256 the extracted dir came from. */
  extractedFrom: string;
}

export interface FetchOptions {
  cacheDir?: string;
  /** Download again even when the cache holds the archive (e.g. after a checksum mismatch). */
  refresh?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  log?: (line: string) => void;
  /** Abort when no byte arrives for this long (default 60 s). */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
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

/** `$ODAPI_CACHE_DIR`, else `$XDG_CACHE_HOME/object-detection-api/models`, else `~/.cache/object-detection-api/models`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string {
  if (env.ODAPI_CACHE_DIR) return env.ODAPI_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || path.join(home, ".cache");
  return path.join(base, "object-detection-api", "models");
}

export function cachePaths(cacheDir: string, name: string): CachePaths {
  const dir = path.join(cacheDir, name);
  return {
    dir,
    archive: path.join(dir, "model.tar.gz"),
    part: path.join(dir, "model.tar.gz.part"),
    partValidator: path.join(dir, "model.tar.gz.part.validator"),
    sha256File: path.join(dir, "model.tar.gz.sha256"),
    savedModel: path.join(dir, "saved_model"),
    extractedFrom: path.join(dir, "saved_model.from-sha256"),
  };
}

/**
 * Request headers: ask only for the missing tail when a partial file exists. With the validator (ETag or
 * Last-Modified) of the response that started the part, `If-Range` makes a changed file come back whole
 * instead of being spliced onto the old bytes.
 */
export function rangeHeaders(partBytes: number, validator?: string): Record<string, string> {
  if (partBytes <= 0) return {};
  return validator
    ? { Range: `bytes=${partBytes}-`, "If-Range": validator }
    : { Range: `bytes=${partBytes}-` };
}

/** The strong validator of a response, if any: an ETag that is not weak, else Last-Modified. */
export function validatorOf(headers: {
  etag?: string | null;
  lastModified?: string | null;
}): string | undefined {
  if (headers.etag && !headers.etag.startsWith("W/")) return headers.etag;
  return headers.lastModified ?? undefined;
}

export type ResumeDecision =
  | { action: "append"; totalBytes?: number }
  | { action: "restart"; totalBytes?: number }
  | { action: "complete" };

/** What to do with the server's answer to a (possibly ranged) request. Pure. */
export function resumeDecision(
  partBytes: number,
  status: number,
  headers: { contentRange?: string | null; contentLength?: string | null },
): ResumeDecision {
  const length = headers.contentLength ? Number(headers.contentLength) : undefined;
  if (status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headers.contentRange ?? "");
    if (m && Number(m[1]) === partBytes) {
      return { action: "append", totalBytes: m[3] === "*" ? undefined : Number(m[3]) };
    }
    throw new OdapiError(
      `the server answered a resume request with an unexpected range "${headers.contentRange}"`,
      "rerun with --refresh to download from the start",
      "remoteIo",
    );
  }
  if (status === 416) {
    // The part file already holds everything: "bytes */<total>".
    const m = /^bytes \*\/(\d+)$/.exec(headers.contentRange ?? "");
    if (m && Number(m[1]) === partBytes) return { action: "complete" };
    return { action: "restart" };
  }
  if (status === 200) return { action: "restart", totalBytes: length };
  throw httpError(status);
}

function httpError(status: number, url?: string): OdapiError {
  const where = url ? ` from ${url}` : "";
  if (status === 404) {
    return new OdapiError(
      `download${where} failed: HTTP 404 (not found)`,
      "check the catalog URL or --mirror",
      "notFound",
    );
  }
  if (status === 401 || status === 403) {
    return new OdapiError(
      `download${where} failed: HTTP ${status} (access denied)`,
      "the model may need a Kaggle login or licence acceptance: download the tar.gz yourself and use --saved-model",
      "auth",
    );
  }
  return new OdapiError(
    `download${where} failed: HTTP ${status}`,
    "rerun later: the download resumes where it stopped",
    "remoteIo",
  );
}

/** `tar -xzf ARCHIVE -C DEST` as argv. */
export function tarExtractArgv(archive: string, dest: string): string[] {
  return ["tar", "-xzf", archive, "-C", dest];
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(file), hash);
  return hash.digest("hex");
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** Breadth-first: the shallowest dir under `root` holding saved_model.pb (archives nest it differently). */
export async function findSavedModelDir(root: string): Promise<string | undefined> {
  let level = [root];
  while (level.length > 0) {
    const next: string[] = [];
    for (const dir of level.sort()) {
      const entries = await readdir(dir, { withFileTypes: true });
      if (entries.some((e) => e.isFile() && e.name === "saved_model.pb")) return dir;
      for (const e of entries) if (e.isDirectory()) next.push(path.join(dir, e.name));
    }
    level = next;
  }
  return undefined;
}

/** Downloads `url` into `paths.part` (resuming), then renames it to `paths.archive`. */
export async function downloadToCache(
  url: string,
  paths: CachePaths,
  opts: FetchOptions = {},
): Promise<{ resumed: boolean; downloadedBytes: number }> {
  await mkdir(paths.dir, { recursive: true });
  const partBytes = await sizeOf(paths.part);
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(opts.signal?.reason);
  opts.signal?.addEventListener("abort", onOuterAbort, { once: true });
  let idle = setTimeout(() => abort.abort(new Error("idle")), idleMs);
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => abort.abort(new Error("idle")), idleMs);
  };
  try {
    let res: Response;
    try {
      const validator =
        partBytes > 0 ? (await readFile(paths.partValidator, "utf8").catch(() => "")).trim() : "";
      res = await fetch(url, {
        headers: rangeHeaders(partBytes, validator || undefined),
        redirect: "follow",
        signal: abort.signal,
      });
    } catch (err) {
      throw networkError(url, err, abort.signal);
    }
    let decision: ResumeDecision;
    try {
      decision = resumeDecision(partBytes, res.status, {
        contentRange: res.headers.get("content-range"),
        contentLength: res.headers.get("content-length"),
      });
    } catch (err) {
      await res.body?.cancel();
      throw err;
    }
    if (decision.action === "complete") {
      await res.body?.cancel();
      await rename(paths.part, paths.archive);
      await rm(paths.partValidator, { force: true });
      return { resumed: true, downloadedBytes: 0 };
    }
    if (!res.body) throw httpError(res.status, url);
    const append = decision.action === "append";
    if (!append) {
      const validator = validatorOf({
        etag: res.headers.get("etag"),
        lastModified: res.headers.get("last-modified"),
      });
      if (validator) await writeFile(paths.partValidator, `${validator}\n`);
      else await rm(paths.partValidator, { force: true });
    }
    const start = append ? partBytes : 0;
    if (append) opts.log?.(`resuming the download at ${start} bytes`);
    const meter = new RateMeter(DOWNLOAD_RATE_WINDOW_MS);
    let received = start;
    const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
    body.on("data", (chunk: Buffer) => {
      touch();
      received += chunk.length;
      opts.onProgress?.({
        receivedBytes: received,
        totalBytes: decision.totalBytes,
        bytesPerSecond: meter.update(received - start),
      });
    });
    try {
      await pipeline(body, createWriteStream(paths.part, { flags: append ? "a" : "w" }));
    } catch (err) {
      throw networkError(url, err, abort.signal);
    }
    if (decision.totalBytes !== undefined && received !== decision.totalBytes) {
      throw new OdapiError(
        `download of ${url} stopped at ${received} of ${decision.totalBytes} bytes`,
        "rerun: the download resumes where it stopped",
        "remoteIo",
      );
    }
    await rename(paths.part, paths.archive);
    await rm(paths.partValidator, { force: true });
    return { resumed: append, downloadedBytes: received - start };
  } finally {
    clearTimeout(idle);
    opts.signal?.removeEventListener("abort", onOuterAbort);
  }
}

function networkError(url: string, err: unknown, signal: AbortSignal): OdapiError {
  if (err instanceof OdapiError) return err;
  const idle = signal.aborted && signal.reason instanceof Error && signal.reason.message === "idle";
  const reason = idle ? "no data arrived for too long" : ((err as Error).message ?? String(err));
  return new OdapiError(
    `download of ${url} was interrupted: ${reason}`,
    "check your connection and rerun: the download resumes where it stopped",
    idle ? "timeout" : "unreachable",
    { cause: err },
  );
}

/** Checks the archive against the recorded sha256, or records it on first download. */
async function checkOrRecordSha(paths: CachePaths, fresh: boolean): Promise<string> {
  const sum = await sha256File(paths.archive);
  const recorded = existsSync(paths.sha256File)
    ? (await readFile(paths.sha256File, "utf8")).trim()
    : undefined;
  if (recorded === undefined) {
    await writeFile(paths.sha256File, `${sum}\n`);
    return sum;
  }
  if (recorded !== sum) {
    throw new OdapiError(
      fresh
        ? `the new download in ${paths.dir} (sha256 ${sum}) differs from the one recorded before (${recorded}): the upstream file changed or was tampered with`
        : `the cached archive ${paths.archive} does not match its recorded sha256 (${recorded}); it is corrupt or was changed`,
      fresh
        ? `if the new file is expected, delete ${paths.sha256File} and rerun`
        : "rerun with --refresh to download it again",
      "config",
    );
  }
  return sum;
}

async function runTar(argv: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    execFile(argv[0], argv.slice(1), (err, _out, stderr) => {
      if (!err) return resolve();
      reject(
        new OdapiError(
          `extracting ${argv[2]} failed: ${stderr.trim() || err.message}`,
          "rerun with --refresh to download the archive again",
          (err as NodeJS.ErrnoException).code === "ENOENT" ? "missingTool" : "config",
        ),
      );
    }),
  );
}

/** Extracts into a temp dir and renames the SavedModel into place: never a half-extracted model. */
async function extract(paths: CachePaths, sha256: string): Promise<void> {
  const tmp = path.join(paths.dir, `extract.${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    await runTar(tarExtractArgv(paths.archive, tmp));
    const found = await findSavedModelDir(tmp);
    if (!found) {
      throw new OdapiError(
        `the archive ${paths.archive} holds no saved_model.pb`,
        "check the catalog URL; a TF2 detector archive has a SavedModel inside",
        "config",
      );
    }
    await rm(paths.extractedFrom, { force: true });
    await rm(paths.savedModel, { recursive: true, force: true });
    await rename(found, paths.savedModel);
    await writeFile(paths.extractedFrom, `${sha256}\n`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
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

/** True when a process with this pid exists (signal 0 only checks). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * One process per cache entry: two `odapi prepare` runs appending to the same .part file would corrupt it.
 * A lock left by a process that died is taken over.
 */
export async function lockCacheEntry(dir: string, name: string): Promise<() => Promise<void>> {
  const lock = path.join(dir, ".lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: "wx" });
      return () => rm(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number((await readFile(lock, "utf8").catch(() => "")).trim());
      if (Number.isInteger(holder) && holder > 0 && pidAlive(holder)) {
        throw new OdapiError(
          `another odapi process (pid ${holder}) is downloading ${name} into ${dir}`,
          "wait for it to finish, then rerun (the cache is shared)",
          "locked",
        );
      }
      await rm(lock, { force: true });
    }
  }
  throw new OdapiError(`could not lock ${dir}`, `remove ${lock} and rerun`, "locked");
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
