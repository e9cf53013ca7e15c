// The bucket layout `odapi publish` writes and the sync agent reads: keys and the manifest format (pure).
import { OdapiError } from "../common/errors";

/** One line per file: `<sha256> <size> <path in the version dir>`; bash reads it with `read -r sha size path`. */
export const MANIFEST_HEADER = "# odapi-manifest 1";

/** A published version: `manifests/<name>/<version>.txt` exists only once every file of it is in the bucket. */
export interface PublishedVersion {
  model: string;
  version: string;
  files: { path: string; size: number; sha256: string }[];
}

/** The prefix without surrounding slashes; rejects what would make keys ambiguous (pure). */
export function normalizePrefix(prefix: string | undefined): string {
  const p = (prefix ?? "").replace(/^\/+|\/+$/g, "");
  if (p.split("/").some((seg) => seg === "." || seg === "..") || /[\n\r\t\\\0]|\/\//.test(p)) {
    throw new OdapiError(
      `--prefix ${JSON.stringify(prefix)} is not a usable key prefix`,
      "pass a prefix such as odapi or team/odapi: no '.', '..' or empty segments, no control characters",
      "usage",
    );
  }
  return p;
}

function under(prefix: string, rest: string): string {
  return prefix ? `${prefix}/${rest}` : rest;
}

/** The object key of a bundle file `models/<name>/<version>/…`. */
export function objectKey(prefix: string, relPath: string): string {
  return under(prefix, relPath);
}

/** Every version's manifest sits under this prefix, so one listing tells a replica what is published. */
export function manifestsPrefix(prefix: string): string {
  return under(prefix, "manifests/");
}

export function manifestKey(prefix: string, model: string, version: string): string {
  return `${manifestsPrefix(prefix)}${model}/${version}.txt`;
}

/** `{model, version}` of a manifest key, or undefined for any other key under the manifests prefix. */
export function parseManifestKey(
  prefix: string,
  key: string,
): { model: string; version: string } | undefined {
  const base = manifestsPrefix(prefix);
  if (!key.startsWith(base)) return undefined;
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*)\/(\d+)\.txt$/.exec(key.slice(base.length));
  return m ? { model: m[1] as string, version: m[2] as string } : undefined;
}

export function renderManifest(v: PublishedVersion): string {
  const files = [...v.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return `${MANIFEST_HEADER} ${v.model} ${v.version}\n${files.map((f) => `${f.sha256} ${f.size} ${f.path}`).join("\n")}\n`;
}
