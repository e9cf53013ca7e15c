// What a publish sends, skips and retires, from the local files and what the bucket holds (pure).

import {
  manifestKey,
  objectKey,
  type PublishedVersion,
  parseManifestKey,
  renderManifest,
} from "../../serving/bucket-layout";
import type { BundleFile } from "../transfer";

export interface PlannedUpload {
  key: string;
  file: BundleFile;
}

export interface PublishPlan {
  uploads: PlannedUpload[];
  skipped: PlannedUpload[];
  /** Written after every upload succeeded: the moment each version becomes visible. */
  manifests: { key: string; body: string }[];
  /** With --prune: versions of the published models that the local dir no longer has. */
  retire: { model: string; version: string; manifestKey: string }[];
  models: string[];
}

/**
 * `remoteSha256` maps an object key to the sha256 recorded on it (undefined when absent or unrecorded);
 * `publishedManifestKeys` is the bucket's manifest listing, used only with prune.
 */
export function planPublish(
  prefix: string,
  files: BundleFile[],
  remoteSha256: ReadonlyMap<string, string | undefined>,
  opts: { prune: boolean; publishedManifestKeys: readonly string[] },
): PublishPlan {
  const uploads: PlannedUpload[] = [];
  const skipped: PlannedUpload[] = [];
  for (const file of files) {
    const key = objectKey(prefix, file.relPath);
    (remoteSha256.get(key) === file.sha256 ? skipped : uploads).push({ key, file });
  }
  const versions: PublishedVersion[] = versionsOf(files);
  const manifests = versions.map((v) => ({
    key: manifestKey(prefix, v.model, v.version),
    body: renderManifest(v),
  }));
  const models = [...new Set(versions.map((v) => v.model))];
  const local = new Set(manifests.map((m) => m.key));
  const retire = opts.prune
    ? opts.publishedManifestKeys.flatMap((key) => {
        const v = parseManifestKey(prefix, key);
        return v && models.includes(v.model) && !local.has(key) ? [{ ...v, manifestKey: key }] : [];
      })
    : [];
  return { uploads, skipped, manifests, retire, models };
}

/** Groups scanned model files (`models/<name>/<version>/<path>`) into versions, in name then version order. */
export function versionsOf(files: BundleFile[]): PublishedVersion[] {
  const byKey = new Map<string, PublishedVersion>();
  for (const f of files) {
    const m = /^models\/([^/]+)\/(\d+)\/(.+)$/.exec(f.relPath);
    if (!m) continue;
    const [model, version, path] = [m[1] as string, m[2] as string, m[3] as string];
    const key = `${model}/${version}`;
    const v = byKey.get(key) ?? { model, version, files: [] };
    v.files.push({ path, size: f.size, sha256: f.sha256 });
    byKey.set(key, v);
  }
  return [...byKey.values()].sort((a, b) =>
    a.model !== b.model ? (a.model < b.model ? -1 : 1) : Number(a.version) - Number(b.version),
  );
}
