// The publish engine: scan prepared models, upload what the bucket lacks (sha256 in object metadata), then write
// each version's manifest last, so replicas see a version only once all of its files are in place.

import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { ByteProgress } from "../../common/rate-meter";
import { RateMeter } from "../../common/rate-meter";
import { manifestsPrefix, normalizePrefix, objectKey } from "../../serving/bucket-layout";
// manifest.ts itself, not the transfer index: that one loads ssh2, a fifth of a no-op publish's start-up.
import { type BundleFile, scanLocalModels } from "../transfer/manifest";
import { createS3Client, type S3Settings } from "./client";
import { s3Error } from "./errors";
import { eachLimited } from "./limit";
import { asVersion, type PublishPlan, pickVersion, planPublish } from "./plan";
import { SHA256_METADATA, uploadFile } from "./upload";

export { manifestKey, normalizePrefix, renderManifest } from "../../serving/bucket-layout";
export { s3SettingsFromEnv } from "./client";
export { checkPublishSource } from "./plan";
export { PART_SIZE, SHA256_METADATA } from "./upload";

/** 4 files at a time, each up to 4 parts in flight (upload.ts). */
const FILES_IN_FLIGHT = 4;
const HEADS_IN_FLIGHT = 16;

export interface PublishOptions {
  bucket: string;
  prefix?: string;
  modelsDir: string;
  settings: S3Settings;
  prune?: boolean;
  /** Publish only these models at this version (what `--catalog` just prepared). */
  only?: { models: string[]; version: number };
  /** Publish each model's one local version under this number (`--models DIR --version N`). */
  asVersion?: number;
  onProgress?: (p: ByteProgress) => void;
  log?: (line: string) => void;
}

export interface PublishResult {
  ok: true;
  uploadedFiles: number;
  uploadedBytes: number;
  skippedFiles: number;
  models: string[];
  manifests: string[];
  retired: string[];
  seconds: number;
}

/** Every object under the prefix with its ETag (quotes removed). */
async function listObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ key: string; etag: string }[]> {
  const out: { key: string; etag: string }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const o of page.Contents ?? [])
      if (o.Key) out.push({ key: o.Key, etag: (o.ETag ?? "").replace(/"/g, "") });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  return (await listObjects(s3, bucket, prefix)).map((o) => o.key);
}

async function remoteSha256s(
  s3: S3Client,
  bucket: string,
  keys: string[],
): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  await eachLimited(keys, HEADS_IN_FLIGHT, async (key) => {
    try {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      out.set(key, head.Metadata?.[SHA256_METADATA]);
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw err;
      out.set(key, undefined);
    }
  });
  return out;
}

/** Uploads the plan's files, then (only if all succeeded) its manifests, then retires pruned versions. */
async function execute(
  s3: S3Client,
  opts: PublishOptions,
  plan: PublishPlan,
  started: number,
): Promise<PublishResult> {
  const total = plan.uploads.reduce((n, u) => n + u.file.size, 0);
  const loaded = new Map<string, number>();
  const meter = new RateMeter(2000);
  const report = () => {
    const sent = [...loaded.values()].reduce((a, b) => a + b, 0);
    opts.onProgress?.({ sentBytes: sent, totalBytes: total, bytesPerSecond: meter.update(sent) });
  };
  report();
  await eachLimited(plan.uploads, FILES_IN_FLIGHT, (u) =>
    uploadFile(s3, opts.bucket, u.key, u.file, (n) => {
      loaded.set(u.key, n);
      report();
    }),
  );
  for (const m of plan.manifests) {
    if (m.unchanged) continue;
    await s3.send(
      new PutObjectCommand({ Bucket: opts.bucket, Key: m.key, Body: m.body, ContentType: "text/plain" }),
    );
  }
  const prefix = normalizePrefix(opts.prefix);
  for (const r of plan.retire) {
    // The manifest goes first: from then on no replica fetches the version, so its files can follow.
    await deleteKeys(s3, opts.bucket, [r.manifestKey]);
    await deleteKeys(
      s3,
      opts.bucket,
      await listKeys(s3, opts.bucket, objectKey(prefix, `models/${r.model}/${r.version}/`)),
    );
    opts.log?.(`retired ${r.model} version ${r.version} (--prune)`);
  }
  return {
    ok: true,
    uploadedFiles: plan.uploads.length,
    uploadedBytes: total,
    skippedFiles: plan.skipped.length,
    models: plan.models,
    manifests: plan.manifests.map((m) => m.key),
    retired: plan.retire.map((r) => `${r.model}/${r.version}`),
    seconds: Math.round((Date.now() - started) / 10) / 100,
  };
}

async function deleteKeys(s3: S3Client, bucket: string, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000).map((Key) => ({ Key }));
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch, Quiet: true } }));
  }
}

/** Publishes already-scanned files (tests pass a list to break one mid-way); every S3 failure as an OdapiError. */
export async function publishFiles(files: BundleFile[], opts: PublishOptions): Promise<PublishResult> {
  const started = Date.now();
  const prefix = normalizePrefix(opts.prefix);
  const s3 = createS3Client(opts.settings);
  const where = {
    bucket: opts.bucket,
    region: opts.settings.region,
    ...(opts.settings.endpoint ? { endpoint: opts.settings.endpoint } : {}),
  };
  try {
    // The listing comes first: a missing bucket, wrong region or refused credentials fail here, before any upload.
    const published = await listObjects(s3, opts.bucket, manifestsPrefix(prefix));
    const remote = await remoteSha256s(
      s3,
      opts.bucket,
      files.map((f) => objectKey(prefix, f.relPath)),
    );
    const plan = planPublish(prefix, files, remote, {
      prune: opts.prune ?? false,
      publishedManifestKeys: published.map((o) => o.key),
      publishedManifestMd5: new Map(published.map((o) => [o.key, o.etag])),
    });
    return await execute(s3, opts, plan, started);
  } catch (err) {
    throw s3Error(err, where);
  } finally {
    s3.destroy();
  }
}

/** `odapi publish`: scan (hash cache included), pick or renumber versions as asked, then publishFiles. */
export async function publish(opts: PublishOptions): Promise<PublishResult> {
  let files = await scanLocalModels(opts.modelsDir);
  if (opts.only) files = pickVersion(files, opts.only.models, opts.only.version);
  if (opts.asVersion !== undefined) files = asVersion(files, opts.asVersion);
  return publishFiles(files, opts);
}
