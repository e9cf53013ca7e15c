// The publish engine: scan prepared models, upload what the bucket lacks (sha256 in object metadata), then write
// each version's manifest last, so replicas see a version only once all of its files are in place.

import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { OdapiError } from "../../common/errors";
import type { ByteProgress } from "../../common/rate-meter";
import { RateMeter } from "../../common/rate-meter";
import { manifestsPrefix, normalizePrefix, objectKey } from "../../serving/bucket-layout";
import { HashCache } from "../transfer/hash-cache";
// manifest.ts itself, not the transfer index: that one loads ssh2, a fifth of a no-op publish's start-up.
import { type BundleFile, listLocalModels } from "../transfer/manifest";
import { createS3Client, type S3Settings } from "./client";
import { s3Error } from "./errors";
import { createLimiter, eachLimited } from "./limit";
import {
  asVersion,
  hashOrder,
  type ManifestPlan,
  type PlannedUpload,
  type PublishFile,
  pickVersion,
  planManifests,
  splitBySha256,
  triage,
  versionPrefixes,
} from "./plan";
import { SHA256_METADATA, uploadFile } from "./upload";

export { manifestKey, normalizePrefix, renderManifest } from "../../serving/bucket-layout";
export { s3SettingsFromEnv } from "./client";
export { checkPublishSource, type PublishFile } from "./plan";
export { PART_SIZE, SHA256_METADATA } from "./upload";

/** PutObject and UploadPart requests in flight over all files, as the AWS CLI's 10 (bench:publish). */
const REQUESTS_IN_FLIGHT = 10;
/** Files open at once: each holds a descriptor while its requests wait for a slot. */
const FILES_IN_FLIGHT = 16;
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
  /** The local hash cache (hash-cache.ts); false: none. Default: the per-user cache file. */
  hashCacheFile?: string | false;
}

export interface PublishResult {
  ok: true;
  uploadedFiles: number;
  uploadedBytes: number;
  skippedFiles: number;
  /** Files read to hash them: the others were answered by the hash cache (or given with their sha256). */
  hashedFiles: number;
  models: string[];
  manifests: string[];
  retired: string[];
  seconds: number;
}

/** Every object under the prefix with its ETag (quotes removed) and size. */
async function listObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ key: string; etag: string; size: number }[]> {
  const out: { key: string; etag: string; size: number }[] = [];
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
      if (o.Key) out.push({ key: o.Key, etag: (o.ETag ?? "").replace(/"/g, ""), size: o.Size ?? -1 });
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

/** Object key → size of what the bucket holds under each version prefix of the files (one listing per version). */
async function listedSizes(s3: S3Client, bucket: string, prefixes: string[]): Promise<Map<string, number>> {
  const lists = await Promise.all(prefixes.map((p) => listObjects(s3, bucket, p)));
  return new Map(lists.flat().map((o) => [o.key, o.size]));
}

/** Waits for every task, then throws the first failure: no request outlives the client destroyed after a failure. */
async function settleAll(tasks: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(tasks)).find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

function unreadable(f: PublishFile, err: unknown): OdapiError {
  return new OdapiError(
    `cannot read ${f.localPath}: ${(err as Error).message}`,
    "let whatever writes the models dir finish (or fix its permissions), then rerun: files already sent are skipped",
    "config",
  );
}

/**
 * Each file's sha256, read one file at a time in the given order (a known one or a cache hit is answered at once);
 * `stop()` leaves the files not yet started unread (their promises then reject).
 */
function hashesInOrder(
  files: readonly PublishFile[],
  cache: HashCache,
): { sha256: Map<PublishFile, Promise<string>>; stop: () => void } {
  const out = new Map<PublishFile, Promise<string>>();
  let stopped = false;
  let previous: Promise<unknown> = Promise.resolve();
  for (const f of files) {
    const known = f.sha256;
    const sha256 = known
      ? Promise.resolve(known)
      : previous.then(() =>
          stopped
            ? Promise.reject(new Error("publish stopped"))
            : cache.sha256(f.localPath as string).catch((err) => Promise.reject(unreadable(f, err))),
        );
    // A failed read fails that file's upload (which reports it); the next file is still read.
    sha256.catch(() => {});
    previous = sha256.catch(() => {});
    out.set(f, sha256);
  }
  return {
    sha256: out,
    stop: () => {
      stopped = true;
    },
  };
}

/**
 * Sends what the bucket lacks: keys the listing does not hold (or holds at another size) go at once, each as soon
 * as its own sha256 is read (smallest first, so the requests start while big files are still being hashed); keys of
 * the same size are sent only if the sha256 recorded on the object differs. Then, only if all succeeded, the
 * manifests; then retires pruned versions.
 */
async function execute(
  s3: S3Client,
  opts: PublishOptions,
  files: PublishFile[],
  cache: HashCache,
  started: number,
): Promise<PublishResult> {
  const prefix = normalizePrefix(opts.prefix);
  // Hashing starts while the listing is on its way: it is needed either way, and the cache keeps what it read.
  const ordered = hashOrder(files);
  const hashing = hashesInOrder(ordered, cache);
  const shaOf = (f: PublishFile) => hashing.sha256.get(f) as Promise<string>;
  // The listing comes first: a missing bucket, wrong region or refused credentials fail here, before any upload.
  const [published, listed] = await Promise.all([
    listObjects(s3, opts.bucket, manifestsPrefix(prefix)),
    listedSizes(s3, opts.bucket, versionPrefixes(prefix, files)),
  ]).catch((err: unknown) => {
    hashing.stop();
    throw err;
  });
  const { send, check } = triage(prefix, ordered, listed);

  let total = 0;
  const loaded = new Map<string, number>();
  const meter = new RateMeter(2000);
  const report = () => {
    const sent = [...loaded.values()].reduce((a, b) => a + b, 0);
    opts.onProgress?.({ sentBytes: sent, totalBytes: total, bytesPerSecond: meter.update(sent) });
  };
  const slots = createLimiter(REQUESTS_IN_FLIGHT);
  const upload = async (u: PlannedUpload) =>
    uploadFile(s3, { bucket: opts.bucket, key: u.key, sha256: await shaOf(u.file), slots }, u.file, (n) => {
      loaded.set(u.key, n);
      report();
    });
  const uploadAll = (us: PlannedUpload[]) => {
    total += us.reduce((n, u) => n + u.file.size, 0);
    report();
    return eachLimited(us, FILES_IN_FLIGHT, upload);
  };
  const sending = uploadAll(send);
  const checking = (async () => {
    const remote = await remoteSha256s(
      s3,
      opts.bucket,
      check.map((u) => u.key),
    );
    const checked = await Promise.all(check.map(async (u) => ({ ...u, sha256: await shaOf(u.file) })));
    const split = splitBySha256(checked, remote);
    await uploadAll(split.uploads);
    return split;
  })();
  await settleAll([sending, checking]).catch((err: unknown) => {
    hashing.stop();
    throw err;
  });
  const { uploads: changed, skipped } = await checking;

  const hashed: BundleFile[] = await Promise.all(files.map(async (f) => ({ ...f, sha256: await shaOf(f) })));
  const plan: ManifestPlan = planManifests(prefix, hashed, {
    prune: opts.prune ?? false,
    publishedManifestKeys: published.map((o) => o.key),
    publishedManifestMd5: new Map(published.map((o) => [o.key, o.etag])),
  });
  for (const m of plan.manifests) {
    if (m.unchanged) continue;
    await s3.send(
      new PutObjectCommand({ Bucket: opts.bucket, Key: m.key, Body: m.body, ContentType: "text/plain" }),
    );
  }
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
    uploadedFiles: send.length + changed.length,
    uploadedBytes: total,
    skippedFiles: skipped.length,
    hashedFiles: cache.hashed,
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

/**
 * Publishes these files (tests pass a list to break one mid-way); files without a sha256 are hashed through the
 * hash cache as their turn comes. Every S3 failure as an OdapiError.
 */
export async function publishFiles(files: PublishFile[], opts: PublishOptions): Promise<PublishResult> {
  const started = Date.now();
  const cache = await HashCache.open(opts.hashCacheFile);
  const s3 = createS3Client(opts.settings);
  const where = {
    bucket: opts.bucket,
    region: opts.settings.region,
    ...(opts.settings.endpoint ? { endpoint: opts.settings.endpoint } : {}),
  };
  try {
    return await execute(s3, opts, files, cache, started);
  } catch (err) {
    throw s3Error(err, where);
  } finally {
    s3.destroy();
    // What was hashed holds whether or not the upload succeeded.
    await cache.save();
  }
}

/** `odapi publish`: list the models dir (hashing waits for publishFiles), pick or renumber versions as asked. */
export async function publish(opts: PublishOptions): Promise<PublishResult> {
  let files: PublishFile[] = await listLocalModels(opts.modelsDir);
  if (opts.only) files = pickVersion(files, opts.only.models, opts.only.version);
  if (opts.asVersion !== undefined) files = asVersion(files, opts.asVersion);
  return publishFiles(files, opts);
}
