// Which data path carries which file: the OpenSSH sftp client for whole local files when the transport allows
// it, ssh2 for the rest; starting the client early; its failures in the terms of errors.ts.
import path from "node:path";
import { OdapiError } from "../../common/errors";
import type { SshTarget } from "../ssh/session";
import type { BundleFile } from "./manifest";
import { batchSafePath, type Transport } from "./openssh-batch";
import { type OpenSshError, OpenSshSftp } from "./openssh-sftp";
import { stagedPathOf } from "./paths";
import type { UploadItem } from "./plan";
import { MiB } from "./ranges";
import { SftpOpError } from "./uploader";

/** Below this much eligible data, a second SSH connection costs more than it saves ("auto" only). */
const OPENSSH_MIN_BYTES = 8 * MiB;

/** Whole-file sends the OpenSSH client can carry: a local file, paths its batch parser takes literally. */
export function opensshEligible(u: UploadItem, remoteDir: string): boolean {
  const r = u.ranges;
  return (
    u.file.localPath !== undefined &&
    r.length === 1 &&
    r[0]?.start === 0 &&
    r[0]?.end === u.file.size &&
    batchSafePath(path.resolve(u.file.localPath)) &&
    batchSafePath(`${remoteDir}/${u.remotePath}`)
  );
}

/**
 * Starts the OpenSSH client while the state command runs (its connect and key exchange then cost no wall time),
 * when the transport allows it and the bundle holds enough data it could carry. Closed unused on a no-op.
 */
export function startOpenSsh(
  target: SshTarget,
  opts: {
    files: readonly BundleFile[];
    transport?: Transport;
    sftpBinary?: string;
    log?: (line: string) => void;
  },
  remoteDir: string,
): OpenSshSftp | undefined {
  const transport = opts.transport ?? "ssh2";
  if (transport === "ssh2") return undefined;
  const candidates = opts.files.filter((f) =>
    opensshEligible(
      { file: f, remotePath: stagedPathOf(f.relPath), ranges: [{ start: 0, end: f.size }] },
      remoteDir,
    ),
  );
  const bytes = candidates.reduce((n, f) => n + f.size, 0);
  if (candidates.length === 0 || (transport === "auto" && bytes < OPENSSH_MIN_BYTES)) return undefined;
  try {
    return new OpenSshSftp(target, { ...(opts.sftpBinary ? { binary: opts.sftpBinary } : {}) });
  } catch (err) {
    if (transport === "openssh") throw openSshUnusableError(err as Error);
    opts.log?.(`OpenSSH sftp not started (${(err as Error).message}); sending over ssh2`);
    return undefined;
  }
}

export function openSshUnusableError(err: Error): OdapiError {
  return new OdapiError(
    `--transport openssh: the OpenSSH sftp client cannot be used: ${err.message}`,
    "install the OpenSSH client (e.g. apt-get install openssh-client), or use --transport auto (falls back to the built-in SSH) or ssh2",
    "config",
  );
}

/** Splits the uploads: whole local files to the OpenSSH client (largest first), the rest to ssh2. */
export function splitTransports(
  uploads: readonly UploadItem[],
  remoteDir: string,
  openssh: boolean,
): { native: UploadItem[]; rest: UploadItem[] } {
  if (!openssh) return { native: [], rest: [...uploads] };
  const native = uploads
    .filter((u) => opensshEligible(u, remoteDir))
    .sort((a, b) => b.file.size - a.file.size);
  const picked = new Set(native);
  return { native, rest: uploads.filter((u) => !picked.has(u)) };
}

/** An OpenSSH client failure in the terms uploadErrorOf understands. */
export function fromOpenSsh(err: OpenSshError): Error {
  const f = err.failure;
  if (f.kind === "sftp") return new SftpOpError(f.op, f.remotePath, f.code, f.message);
  return new Error(`OpenSSH sftp: ${f.message}`);
}
