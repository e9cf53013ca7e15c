// The HTTP download into the cache's part file: resumes with Range, aborts when no byte arrives for too long,
// reports progress, and renames the part to the archive only once it is whole.
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { OdapiError } from "../../common/errors";
import { RateMeter } from "../../common/rate-meter";
import type { CachePaths } from "./cache";
import { httpError, type ResumeDecision, rangeHeaders, resumeDecision, validatorOf } from "./resume";

export interface DownloadProgress {
  receivedBytes: number;
  /** Unknown when the server sends no length. */
  totalBytes?: number;
  bytesPerSecond: number;
}

export interface DownloadOptions {
  onProgress?: (p: DownloadProgress) => void;
  log?: (line: string) => void;
  /** Abort when no byte arrives for this long (default 60 s). */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

/** Downloads stall and resume for seconds at a time: a longer window keeps the shown rate readable. */
const DOWNLOAD_RATE_WINDOW_MS = 5000;

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** Downloads `url` into `paths.part` (resuming), then renames it to `paths.archive`. */
export async function downloadToCache(
  url: string,
  paths: CachePaths,
  opts: DownloadOptions = {},
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
