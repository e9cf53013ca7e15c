// One file to S3 straight from disk: a PutObject up to the part size, else a multipart upload whose parts are read
// streams of byte ranges. The SDK sends a stream without hashing it for the signature (UNSIGNED-PAYLOAD) and without
// buffering it, where lib-storage copied every part into memory and hashed it: half the CPU of a first publish.
import type { EventEmitter } from "node:events";
import { type FileHandle, open } from "node:fs/promises";
import { type Readable, Transform } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { OdapiError } from "../../common/errors";
import { eachLimited, type Limiter } from "./limit";
import type { PublishFile } from "./plan";

/** The object metadata key holding a file's sha256 (hex): S3 returns it as x-amz-meta-sha256. */
export const SHA256_METADATA = "sha256";
/** Parts of 8 MiB, as the AWS CLI: a multipart file keeps every request slot (index.ts) busy (bench:publish). */
export const PART_SIZE = 8 * 1024 * 1024;

/** `[start, endInclusive]` byte ranges of the parts of a `size`-byte file (pure). */
export function partRanges(size: number, partSize: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start < size; start += partSize)
    out.push([start, Math.min(size, start + partSize) - 1]);
  return out;
}

/** Opens the file and checks it still has the scanned size: a shorter body than Content-Length would hang. */
async function openScanned(file: PublishFile): Promise<FileHandle> {
  const fh = await open(file.localPath as string, "r");
  const { size } = await fh.stat();
  if (size !== file.size) {
    await fh.close();
    throw new OdapiError(
      `${file.localPath} changed while publishing (${size} bytes, ${file.size} when scanned)`,
      "let whatever writes the models dir finish, then rerun: files already sent are skipped",
      "config",
    );
  }
  return fh;
}

/**
 * A stream of the range that reports how many of its bytes were read (and so handed to the socket). Counted in a
 * pass-through, not a 'data' listener: that would start the flow before the SDK pipes it (after 100-continue).
 */
function rangeStream(fh: FileHandle, start: number, end: number, onRead: (n: number) => void): Readable {
  let read = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      read += chunk.length;
      onRead(read);
      done(null, chunk);
    },
  });
  const src = fh.createReadStream({ start, end, autoClose: false, highWaterMark: 1 << 20 });
  // pipe() does not forward errors: a failed read must fail the request, not leave it waiting for bytes.
  src.on("error", (err) => count.destroy(err));
  return src.pipe(count);
}

/**
 * Uploads one file with its sha256 in the metadata; every PutObject and UploadPart waits for a slot of `slots`,
 * shared by all files, so small files and the parts of big ones fill the same request budget.
 */
export async function uploadFile(
  s3: S3Client,
  target: { bucket: string; key: string; sha256: string; slots: Limiter },
  file: PublishFile,
  onBytes: (loaded: number) => void,
): Promise<void> {
  const { bucket, key, slots } = target;
  const Metadata = { [SHA256_METADATA]: target.sha256 };
  if (file.content) {
    const Body = file.content;
    await slots(() => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body, Metadata })));
    onBytes(file.size);
    return;
  }
  const fh = await openScanned(file);
  try {
    if (file.size <= PART_SIZE) {
      // An empty file is sent as an empty buffer: a stream of range [0, -1] would read the whole file.
      await slots(() =>
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: file.size === 0 ? Buffer.alloc(0) : rangeStream(fh, 0, file.size - 1, onBytes),
            ContentLength: file.size,
            Metadata,
          }),
        ),
      );
      onBytes(file.size);
      return;
    }
    await multipart(s3, { bucket, key, slots }, file, fh, Metadata, onBytes);
  } finally {
    await fh.close();
  }
}

async function multipart(
  s3: S3Client,
  { bucket, key, slots }: { bucket: string; key: string; slots: Limiter },
  file: PublishFile,
  fh: FileHandle,
  Metadata: Record<string, string>,
  onBytes: (loaded: number) => void,
): Promise<void> {
  const { UploadId } = await s3.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, Metadata }),
  );
  const ranges = partRanges(file.size, PART_SIZE);
  // Each part's read stream leaves a 'close' listener on the handle until it closes: as many as parts, not a leak.
  (fh as unknown as EventEmitter).setMaxListeners(ranges.length + 1);
  const etags: string[] = [];
  const read = new Array<number>(ranges.length).fill(0);
  try {
    // Every part queues for a slot at once; after the first failure the queued ones return without a request.
    let failed = false;
    await eachLimited(
      ranges.map((r, i) => ({ r, i })),
      ranges.length,
      ({ r: [start, end], i }) =>
        slots(async () => {
          if (failed) return;
          const Body = rangeStream(fh, start, end, (n) => {
            read[i] = n;
            onBytes(read.reduce((a, b) => a + b, 0));
          });
          const part = await s3.send(
            new UploadPartCommand({
              Bucket: bucket,
              Key: key,
              UploadId,
              PartNumber: i + 1,
              Body,
              ContentLength: end - start + 1,
            }),
          );
          etags[i] = part.ETag as string;
        }).catch((err: unknown) => {
          failed = true;
          throw err;
        }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    onBytes(file.size);
  } catch (err) {
    // Parts of an abandoned upload are billed storage until aborted.
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {});
    throw err;
  }
}
