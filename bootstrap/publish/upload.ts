// One file to S3 straight from disk: a PutObject up to the part size, else a multipart upload of byte ranges. Each
// request carries the CRC32 of its bytes, as the AWS CLI's do: S3 checks every part on arrival and keeps a composite
// CRC32 for the object, where a part without one leaves S3 to compute a full-object CRC64NVME over the whole object
// at CompleteMultipartUpload (the slowest request of a first publish, bench:publish). The body is read once into a
// buffer for its CRC32 and sent as a stream, so the SDK does not hash it again for the signature (UNSIGNED-PAYLOAD).
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
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

/** The checksum S3 takes in x-amz-checksum-crc32: the CRC32 of the bytes, big-endian, in base64 (pure). */
export function crc32Base64(bytes: Uint8Array): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(bytes));
  return out.toString("base64");
}

/** Opens the file and checks it still has the scanned size: a shorter body than Content-Length would hang. */
async function openScanned(file: PublishFile): Promise<FileHandle> {
  const fh = await open(file.localPath as string, "r");
  const { size } = await fh.stat();
  if (size !== file.size) {
    await fh.close();
    throw changedWhilePublishing(file, size);
  }
  return fh;
}

function changedWhilePublishing(file: PublishFile, size: number): OdapiError {
  return new OdapiError(
    `${file.localPath} changed while publishing (${size} bytes, ${file.size} when scanned)`,
    "let whatever writes the models dir finish, then rerun: files already sent are skipped",
    "config",
  );
}

/** Bytes [start, start + length) of the file; fewer than asked means it shrank since the scan. */
async function readRange(fh: FileHandle, file: PublishFile, start: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, start + got);
    if (bytesRead === 0) throw changedWhilePublishing(file, start + got);
    got += bytesRead;
  }
  return buf;
}

/** Slices handed to the socket one by one, so progress moves within a part. */
const PROGRESS_SLICE = 1 << 20;

/**
 * The buffer as a stream (the SDK sends a stream UNSIGNED-PAYLOAD, where it would sha256 a buffer for the signature)
 * that reports how many of its bytes were handed on: a pull-based stream, so nothing flows before the SDK pipes it
 * (after 100-continue).
 */
function bodyStream(buf: Buffer, onRead: (n: number) => void): Readable {
  let at = 0;
  return new Readable({
    read() {
      if (at >= buf.length) {
        this.push(null);
        return;
      }
      const slice = buf.subarray(at, at + PROGRESS_SLICE);
      at += slice.length;
      onRead(at);
      this.push(slice);
    },
  });
}

/** One request's body and its CRC32 headers: the SDK then sends the given checksum instead of computing one. */
function checkedBody(buf: Buffer, onRead: (n: number) => void) {
  return {
    Body: bodyStream(buf, onRead),
    ContentLength: buf.length,
    ChecksumAlgorithm: "CRC32" as const,
    ChecksumCRC32: crc32Base64(buf),
  };
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
  const put = (read: () => Promise<Buffer>) =>
    slots(async () => {
      const body = checkedBody(await read(), onBytes);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Metadata, ...body }));
      onBytes(file.size);
    });
  if (file.content) {
    const content = file.content;
    await put(async () => content);
    return;
  }
  const fh = await openScanned(file);
  try {
    if (file.size <= PART_SIZE) await put(() => readRange(fh, file, 0, file.size));
    else await multipart(s3, { bucket, key, slots }, file, fh, Metadata, onBytes);
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
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, Metadata, ChecksumAlgorithm: "CRC32" }),
  );
  const ranges = partRanges(file.size, PART_SIZE);
  const parts: { ETag: string; ChecksumCRC32: string; PartNumber: number }[] = [];
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
          const body = checkedBody(await readRange(fh, file, start, end - start + 1), (n) => {
            read[i] = n;
            onBytes(read.reduce((a, b) => a + b, 0));
          });
          const part = await s3.send(
            new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, ...body }),
          );
          parts[i] = { ETag: part.ETag as string, ChecksumCRC32: body.ChecksumCRC32, PartNumber: i + 1 };
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
        MultipartUpload: { Parts: parts },
      }),
    );
    onBytes(file.size);
  } catch (err) {
    // Parts of an abandoned upload are billed storage until aborted.
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {});
    throw err;
  }
}
