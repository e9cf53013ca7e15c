// HTTP resume decisions: which Range to ask for, and what the server's answer means for the part file. Pure.
import { OdapiError } from "../../common/errors";

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

/** An HTTP error status as the error a user reads: not found, access denied, or try again. */
export function httpError(status: number, url?: string): OdapiError {
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
