// What a publish sends, skips and retires, from the local files and what the bucket holds (pure).
import type { BundleFile } from "../transfer";
import {
  manifestKey,
  objectKey,
  type PublishedVersion,
  parseManifestKey,
  renderManifest,
  versionsOf,
} from "./layout";

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
