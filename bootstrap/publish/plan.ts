// What a publish sends, skips and retires, from the local files and what the bucket holds (pure).

import { createHash } from "node:crypto";
import { OdapiError } from "../../common/errors";
import { checkVersion } from "../../model-prep/version";
import {
  manifestKey,
  objectKey,
  type PublishedVersion,
  parseManifestKey,
  renderManifest,
} from "../../serving/bucket-layout";
import type { BundleFile } from "../transfer/manifest";
import { versionDir, versionOf } from "../transfer/paths";

/** A file as publish takes it: with its sha256 when already known (scanned), else hashed when needed. */
export type PublishFile = Omit<BundleFile, "sha256"> & { sha256?: string };

export interface PlannedUpload<F = PublishFile> {
  key: string;
  file: F;
}

/** What becomes visible and what goes, once every file is in the bucket. */
export interface ManifestPlan {
  /** Written after every upload succeeded: the moment each version becomes visible; unchanged ones are not re-sent. */
  manifests: { key: string; body: string; unchanged: boolean }[];
  /** With --prune: versions of the published models that the local dir no longer has. */
  retire: { model: string; version: string; manifestKey: string }[];
  models: string[];
}

/** Local files smallest first: hashing them first lets uploads start at once while the big ones are read (pure). */
export function hashOrder<F extends { size: number }>(files: readonly F[]): F[] {
  return [...files].sort((a, b) => a.size - b.size);
}

/**
 * Splits files by the listing of their version prefixes (`listedSize`: object key → size): a key absent or of
 * another size must be sent, whatever its sha256, so it needs no HEAD; only a key of the same size is `check`ed
 * against the sha256 recorded on the object. Keeps the order of `files` (pure).
 */
export function triage<F extends { relPath: string; size: number }>(
  prefix: string,
  files: readonly F[],
  listedSize: ReadonlyMap<string, number>,
): { send: PlannedUpload<F>[]; check: PlannedUpload<F>[] } {
  const send: PlannedUpload<F>[] = [];
  const check: PlannedUpload<F>[] = [];
  for (const file of files) {
    const key = objectKey(prefix, file.relPath);
    (listedSize.get(key) === file.size ? check : send).push({ key, file });
  }
  return { send, check };
}

/** Of the checked files, those whose key holds the same sha256 are skipped, the rest uploaded (pure). */
export function splitBySha256<F>(
  checked: readonly (PlannedUpload<F> & { sha256: string })[],
  remoteSha256: ReadonlyMap<string, string | undefined>,
): { uploads: PlannedUpload<F>[]; skipped: PlannedUpload<F>[] } {
  const uploads: PlannedUpload<F>[] = [];
  const skipped: PlannedUpload<F>[] = [];
  for (const { key, file, sha256 } of checked)
    (remoteSha256.get(key) === sha256 ? skipped : uploads).push({ key, file });
  return { uploads, skipped };
}

/** The object-key prefix of each version the files belong to, for one listing per version (pure). */
export function versionPrefixes(prefix: string, files: readonly { relPath: string }[]): string[] {
  const out = new Set<string>();
  for (const f of files) {
    const v = versionOf(f.relPath);
    if (v) out.add(objectKey(prefix, `${versionDir(v)}/`));
  }
  return [...out];
}

/**
 * The manifest of each version of `files` (all hashed by now) and, with prune, the published versions to retire;
 * `publishedManifestKeys` is the bucket's manifest listing (pure).
 */
export function planManifests(
  prefix: string,
  files: BundleFile[],
  opts: {
    prune: boolean;
    publishedManifestKeys: readonly string[];
    /** The listing's ETag per manifest key: a plain PUT's ETag is the body's MD5, so an equal one needs no PUT. */
    publishedManifestMd5?: ReadonlyMap<string, string>;
  },
): ManifestPlan {
  const versions: PublishedVersion[] = versionsOf(files);
  const manifests = versions.map((v) => {
    const key = manifestKey(prefix, v.model, v.version);
    const body = renderManifest(v);
    const md5 = createHash("md5").update(body).digest("hex");
    return { key, body, unchanged: opts.publishedManifestMd5?.get(key) === md5 };
  });
  const models = [...new Set(versions.map((v) => v.model))];
  const local = new Set(manifests.map((m) => m.key));
  const retire = opts.prune
    ? opts.publishedManifestKeys.flatMap((key) => {
        const v = parseManifestKey(prefix, key);
        return v && models.includes(v.model) && !local.has(key) ? [{ ...v, manifestKey: key }] : [];
      })
    : [];
  return { manifests, retire, models };
}

/** Groups scanned model files (`models/<name>/<version>/<path>`) into versions, in name then version order. */
export function versionsOf(files: BundleFile[]): PublishedVersion[] {
  const byKey = new Map<string, PublishedVersion>();
  for (const f of files) {
    const v0 = versionOf(f.relPath);
    if (!v0) continue;
    const { model, version, rest: path } = v0;
    const key = `${model}/${version}`;
    const v = byKey.get(key) ?? { model, version, files: [] };
    v.files.push({ path, size: f.size, sha256: f.sha256 });
    byKey.set(key, v);
  }
  return [...byKey.values()].sort((a, b) =>
    a.model !== b.model ? (a.model < b.model ? -1 : 1) : Number(a.version) - Number(b.version),
  );
}

/** Where a publish takes its models from: exactly one of --models DIR and --catalog NAME… (pure). */
export function checkPublishSource(a: {
  models?: string;
  catalog?: string[];
  runner?: string;
  version?: number;
}): { kind: "models"; dir: string } | { kind: "catalog"; names: string[] } {
  const catalog = a.catalog ?? [];
  if (a.models !== undefined && catalog.length > 0) {
    throw new OdapiError(
      "--models and --catalog are two sources: pass one",
      "publish prepared models with --models DIR, or catalog models with --catalog NAME (prepared into --out first)",
      "usage",
    );
  }
  if (a.models === undefined && catalog.length === 0) {
    throw new OdapiError(
      "nothing to publish",
      "pass --models DIR (prepared models, e.g. from odapi prepare) or --catalog NAME (e.g. --catalog ssd_mobilenet_v2)",
      "usage",
    );
  }
  if (a.runner !== undefined && catalog.length === 0) {
    throw new OdapiError(
      "--runner prepares --catalog models; --models DIR is published as it is",
      "drop --runner, or publish catalog models with --catalog NAME --runner venv|docker",
      "usage",
    );
  }
  if (a.runner === "remote") {
    throw new OdapiError(
      "--runner remote prepares on an SSH host, but publish uploads from this machine",
      "use --runner venv or --runner docker here (or run odapi publish on a machine that has the prepared models)",
      "usage",
    );
  }
  if (a.version !== undefined) checkVersion(a.version);
  return a.models !== undefined ? { kind: "models", dir: a.models } : { kind: "catalog", names: catalog };
}

/** Only these models at this version (a catalog publish sends what it just prepared, not the whole --out dir). */
export function pickVersion<F extends { relPath: string }>(
  files: F[],
  models: readonly string[],
  version: number,
): F[] {
  const picked = files.filter((f) => {
    const v = versionOf(f.relPath);
    return v !== undefined && models.includes(v.model) && v.version === String(version);
  });
  const missing = models.filter((name) => !picked.some((f) => versionOf(f.relPath)?.model === name));
  if (missing.length > 0) {
    throw new OdapiError(
      `no prepared version ${version} of ${missing.join(", ")}`,
      "prepare it first (odapi prepare --catalog NAME --version N), or publish with the --version it was prepared as",
      "notFound",
    );
  }
  return picked;
}

/** Each model's one local version, published as `version` instead (--models DIR --version N); pure. */
export function asVersion<F extends { relPath: string }>(files: F[], version: number): F[] {
  const versions = new Map<string, Set<string>>();
  for (const f of files) {
    const v = versionOf(f.relPath);
    if (v) versions.set(v.model, (versions.get(v.model) ?? new Set()).add(v.version));
  }
  const several = [...versions].filter(([, vs]) => vs.size > 1);
  if (several.length > 0) {
    const [model, vs] = several[0] as [string, Set<string>];
    throw new OdapiError(
      `--version ${version} is ambiguous: ${model} has versions ${[...vs].join(", ")} in --models`,
      "point --models at a dir with one version per model, or drop --version to publish them as they are numbered",
      "usage",
    );
  }
  return files.map((f) => {
    const v = versionOf(f.relPath);
    return v ? { ...f, relPath: `${versionDir({ model: v.model, version: String(version) })}/${v.rest}` } : f;
  });
}
