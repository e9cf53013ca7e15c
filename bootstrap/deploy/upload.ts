// Deploy step "upload": the bundle (models + rendered serving files) through the transfer engine, with the
// failures a deploy must name itself (disk full, connection lost while a request hangs).

import { OdapiError } from "../../common/errors";
import type { ByteProgress } from "../../common/rate-meter";
import { diskFullError } from "../ssh/errors";
import type { ExecResult, SshSession } from "../ssh/session";
import {
  type BundleFile,
  type EarlyStart,
  remoteFreeBytes,
  type SyncResult,
  syncBundle,
  type Transport,
} from "../transfer";

/** What to tell the user about versions on the host that the bundle lacks (pure). */
export function staleVersionMessages(
  stale: { dir: string; outranks: boolean; removed: boolean }[],
): string[] {
  const removed = stale.filter((v) => v.removed).map((v) => v.dir);
  const outranking = stale.filter((v) => !v.removed && v.outranks).map((v) => v.dir);
  const lines: string[] = [];
  if (removed.length) lines.push(`removed versions not in --models (--prune): ${removed.join(", ")}`);
  if (outranking.length) {
    lines.push(
      `warning: ${outranking.join(", ")} on the host ${outranking.length > 1 ? "are" : "is"} newer than the version(s) ` +
        "you deployed, so TF Serving keeps serving it (it serves the highest version) — rerun with --prune to remove " +
        "versions that are not in --models",
    );
  }
  return lines;
}

/** Whether an upload failure is the remote disk filling up (SFTP status 4 carries the server's "No space" text). */
export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  const text = `${String(e?.message ?? "")} ${String((e?.cause as Error | undefined)?.message ?? "")}`;
  return e?.code === "ENOSPC" || /No space left|ENOSPC|disk quota/i.test(text);
}

async function diskFullDetail(session: SshSession, remoteDir: string): Promise<string> {
  const free = await remoteFreeBytes(session, remoteDir);
  return free === undefined ? "" : `${Math.round(free / 1024 / 1024)} MiB free in ${remoteDir}`;
}

export interface UploadStep {
  files: BundleFile[];
  remoteDir: string;
  parallel?: number | "auto";
  transport: Transport;
  prune: boolean;
  signal?: AbortSignal;
  /** The engine's plan and channel lines (--verbose). */
  debug?: (line: string) => void;
  onProgress?: (p: ByteProgress) => void;
  /** The transfer's early start (begun before the dir check and the lock) and the state read under the lock. */
  early?: EarlyStart;
  state?: ExecResult;
}

export function uploadBundle(session: SshSession, step: UploadStep): Promise<SyncResult> {
  return untilConnectionLost(
    session,
    syncBundle(session, {
      files: step.files,
      remoteDir: step.remoteDir,
      ...(step.parallel !== undefined ? { parallel: step.parallel } : {}),
      transport: step.transport,
      prune: step.prune,
      ...(step.debug ? { log: step.debug } : {}),
      ...(step.onProgress ? { onProgress: step.onProgress } : {}),
      ...(step.signal ? { signal: step.signal } : {}),
      ...(step.early ? { early: step.early } : {}),
      ...(step.state ? { state: step.state } : {}),
    }),
  ).catch(async (err) => {
    if (isDiskFull(err))
      throw diskFullError(session.target.host, await diskFullDetail(session, step.remoteDir));
    throw err;
  });
}

/**
 * Settles with `work`, or rejects shortly after the SSH connection closes if `work` has not settled by then: an
 * SFTP request in flight on a dead connection may never call back, and an unsettled promise lets node exit 0.
 * The grace period lets the upload engine report first (its message says how much was sent).
 */
export function untilConnectionLost<T>(session: SshSession, work: Promise<T>, graceMs = 2000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onClose = () => {
      timer = setTimeout(
        () =>
          reject(
            new OdapiError(
              `the SSH connection to ${session.target.host} was lost during the upload; the served models are unchanged`,
              "check the network, then rerun the same command: verified files are kept, only the rest is sent",
              "unreachable",
            ),
          ),
        graceMs,
      );
    };
    session.client.once("close", onClose);
    work.then(resolve, reject).finally(() => {
      if (timer) clearTimeout(timer);
      session.client.removeListener("close", onClose);
    });
  });
}
