// Where each bundle file lives on the remote, and where it is staged before it becomes visible (pure).
import { OdapiError } from "../../common/errors";

/** A model version file: `models/<name>/<version>/<rest>`. */
const VERSION_FILE = /^models\/([^/]+)\/(\d+)\/(.+)$/;
/** Characters a remote path may hold: the remote scripts read paths line by line and tab-separated. */
const UNSAFE_CHARS = /[\n\r\t\\\0]/;

export interface VersionRef {
  model: string;
  version: string;
  /** The path inside the version dir. */
  rest: string;
}

/** Throws when a bundle path could escape the remote dir or break the line-based remote scripts. */
export function validateRelPath(relPath: string): void {
  const bad = (why: string) =>
    new OdapiError(
      `bundle path ${JSON.stringify(relPath)} is not allowed (${why})`,
      "rename the file: relative paths without '..', '.', empty segments, a leading '-', tabs, newlines or backslashes",
      "config",
    );
  if (relPath.length === 0) throw bad("empty");
  if (relPath.startsWith("/")) throw bad("absolute");
  if (UNSAFE_CHARS.test(relPath)) throw bad("control character or backslash");
  // find(1) reads an argument starting with one of these as part of its expression, not as a path.
  if (/^[-()!,]/.test(relPath)) throw bad("starts with one of - ( ) ! ,");
  for (const seg of relPath.split("/")) {
    if (seg === "" || seg === "." || seg === "..") throw bad("empty, '.' or '..' segment");
    // A leading '-' would read as an option to the remote tools (find, openssl, ln, mv).
    if (seg.startsWith("-")) throw bad("segment starts with '-'");
  }
  if (relPath === ".odapi" || relPath.startsWith(".odapi/")) throw bad("the .odapi dir is reserved");
}

export function versionOf(relPath: string): VersionRef | undefined {
  const m = VERSION_FILE.exec(relPath);
  return m ? { model: m[1] as string, version: m[2] as string, rest: m[3] as string } : undefined;
}

/** The live dir of a model version, e.g. `models/ssd/1`. */
export function versionDir(v: Pick<VersionRef, "model" | "version">): string {
  return `models/${v.model}/${v.version}`;
}

/** Non-numeric, so TF Serving ignores it while it is being filled (design.md). */
export function stagingDir(v: Pick<VersionRef, "model" | "version">): string {
  return `models/${v.model}/.staging-${v.version}`;
}

/** Where the previous content of a replaced version waits for removal (also non-numeric). */
export function retiredDir(v: Pick<VersionRef, "model" | "version">): string {
  return `models/${v.model}/.old-${v.version}`;
}

/** Where a file is written before it is renamed to `relPath`: the staging dir for model files, a dot-temp name otherwise. */
export function stagedPathOf(relPath: string): string {
  const v = versionOf(relPath);
  if (v) return `${stagingDir(v)}/${v.rest}`;
  const slash = relPath.lastIndexOf("/");
  const dir = slash < 0 ? "" : relPath.slice(0, slash + 1);
  const base = slash < 0 ? relPath : relPath.slice(slash + 1);
  return `${dir}.${base}.odapi-part`;
}

/** Whether a remote path is one of our own in-progress names (never a content source for others). */
export function isTransientPath(relPath: string): boolean {
  return /(^|\/)\.(staging|old)-\d+(\/|$)/.test(relPath) || relPath.endsWith(".odapi-part");
}

export function parentDir(relPath: string): string {
  const slash = relPath.lastIndexOf("/");
  return slash < 0 ? "." : relPath.slice(0, slash);
}
