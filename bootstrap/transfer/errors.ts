// Upload failures as one clear OdapiError each (pure).
import { OdapiError } from "../../common/errors";
import { diskFullError } from "../ssh/errors";
import { SftpOpError } from "./uploader";

const SFTP_PERMISSION_DENIED = 3;
const SFTP_FAILURE = 4;
const SFTP_NO_SUCH_FILE = 2;

export const RESUME_REMEDY =
  "rerun the same command: files and blocks already verified on the server are kept, only the rest is sent";

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

export interface UploadContext {
  host: string;
  user: string;
  sentBytes: number;
  totalBytes: number;
  connectionLost: boolean;
  aborted: boolean;
  /** Free bytes on the remote filesystem, measured after the failure (when it could be). */
  freeBytesAfter?: number;
}

export function uploadErrorOf(err: unknown, ctx: UploadContext): OdapiError {
  const progress = `${mb(ctx.sentBytes)} of ${mb(ctx.totalBytes)} sent`;
  if (ctx.aborted) {
    return new OdapiError(
      `upload cancelled (${progress}); nothing partial is served`,
      RESUME_REMEDY,
      "failure",
    );
  }
  if (ctx.connectionLost) {
    return new OdapiError(
      `the SSH connection to ${ctx.host} was lost during the upload (${progress}); the served models are unchanged`,
      `check the network, then ${RESUME_REMEDY}`,
      "unreachable",
    );
  }
  if (err instanceof OdapiError) return err;
  if (err instanceof SftpOpError) {
    if (err.code === SFTP_PERMISSION_DENIED) {
      return new OdapiError(
        `permission denied on ${ctx.host}: cannot ${err.op} ${err.remotePath}`,
        `choose a --remote-dir that ${ctx.user} can write (e.g. under its home), or fix the dir's owner (sudo chown -R ${ctx.user} <dir>)`,
        "remoteIo",
      );
    }
    if (
      ctx.freeBytesAfter !== undefined &&
      ctx.freeBytesAfter < Math.max(1 << 20, ctx.totalBytes - ctx.sentBytes)
    ) {
      return diskFullError(
        ctx.host,
        `${mb(ctx.freeBytesAfter)} free, ${mb(ctx.totalBytes - ctx.sentBytes)} still to send`,
      );
    }
    if (err.code === SFTP_NO_SUCH_FILE) {
      return new OdapiError(
        `${err.remotePath} vanished on ${ctx.host} during the upload (${err.message})`,
        `make sure nothing else cleans the remote dir while deploying, then ${RESUME_REMEDY}`,
        "remoteIo",
      );
    }
    if (err.code === SFTP_FAILURE || typeof err.code === "number") {
      return new OdapiError(
        `writing to ${ctx.host} failed: ${err.message}`,
        `check the server's disk (df -h) and logs, then ${RESUME_REMEDY}`,
        "remoteIo",
      );
    }
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new OdapiError(`upload to ${ctx.host} failed: ${msg} (${progress})`, RESUME_REMEDY, "remoteIo", {
    cause: err,
  });
}

export function verifyMismatchError(host: string, paths: string[]): OdapiError {
  const list = paths.slice(0, 3).join(", ") + (paths.length > 3 ? ` and ${paths.length - 3} more` : "");
  return new OdapiError(
    `the copy on ${host} of ${list} does not match the local sha256; nothing was renamed into place`,
    `make sure the local files are not changing during the deploy, then ${RESUME_REMEDY} (bad blocks are re-sent)`,
    "remoteIo",
  );
}

export function notEnoughSpaceError(host: string, needBytes: number, freeBytes: number): OdapiError {
  return diskFullError(host, `${mb(needBytes)} to upload, ${mb(freeBytes)} free`);
}
