// syncBundle: check the remote, plan, prepare, send in parallel, verify every file by sha256, rename into place.

import { OdapiError } from "../../common/errors";
import type { ByteProgress } from "../../common/rate-meter";
import { checkRemoteDir } from "../../common/remote-dir";
import { diskFullError, remoteCommandError } from "../ssh/errors";
import type { ExecResult, SshSession } from "../ssh/session";
import { type EarlyStart, startEarly } from "./channels";
import { remoteFreeBytes } from "./disk";
import { notEnoughSpaceError, uploadErrorOf, verifyMismatchError } from "./errors";
import { sweepStaleKeyDirs } from "./key-dir";
import { bundleDigest, defaultLastSyncFile, destinationKey, recordLastSync } from "./last-sync";
import { type BundleFile, hashBlocks, type ManifestEntry, parseManifest } from "./manifest";
import type { Transport } from "./openssh-batch";
import { stagedPathOf, validateRelPath } from "./paths";
import { startPending } from "./pending-command";
import { hashRequestsFor, type Plan, planSync } from "./plan";
import { blockSizeFor, channelCountOf, MiB } from "./ranges";
import {
  commitCommand,
  commitTail,
  commitVerifyLine,
  type HashResults,
  hashCommand,
  hashRequestText,
  opsCommand,
  opsText,
  parseCommitOutput,
  parseHashOutput,
  parseState,
  stateCommand,
} from "./remote-scripts";
import { sendAll } from "./send";

export interface SyncOptions {
  files: BundleFile[];
  remoteDir: string;
  /** SFTP channels; "auto" (default) chooses from the measured round trip. */
  parallel?: number | "auto";
  /**
   * What carries whole files (see `Transport`): default "ssh2" here; `odapi deploy` uses "auto", which sends them
   * with the OpenSSH `sftp` client when it is installed and one channel suffices (its C crypto leaves node's
   * thread free: 201 MB on loopback ~0.75 s instead of ~1.2 s).
   */
  transport?: Transport;
  /** The `sftp` executable for the openssh transport (default `sftp` on PATH). */
  sftpBinary?: string;
  /** Remove version dirs of the bundle's models that the bundle does not have (see Plan.stale). */
  prune?: boolean;
  onProgress?: (p: ByteProgress) => void;
  signal?: AbortSignal;
  /** One line per step, for --verbose. */
  log?: (line: string) => void;
  /** Work started before the remote state was read (startEarly with the same files and remoteDir); owned and
   * closed by syncBundle from here on. Without it syncBundle starts the same itself. */
  early?: EarlyStart;
  /** The state command's result when the caller ran it already (deploy reads it inside the lock's command). */
  state?: ExecResult;
  /** Where each destination's last bundle is recorded, to skip the upload's early start on a rerun of the same
   * bundle (last-sync.ts); false: neither read nor written. Default under the user's cache dir. */
  lastSyncFile?: string | false;
}

export interface SyncResult {
  /** Files placed this run (sent, resumed or hard-linked from identical remote content). */
  uploadedFiles: number;
  /** Payload bytes sent over the wire. */
  uploadedBytes: number;
  /** Files already in place and verified unchanged. */
  skippedFiles: number;
  /** SFTP channels used (0 when nothing was sent) and the measured SFTP round trip. */
  channels: number;
  rttMs?: number;
  /** Files sent by the OpenSSH sftp client (the rest of `uploadedFiles` went over ssh2 or were linked). */
  opensshFiles: number;
  /** Version dirs (`models/ssd/3`) of the bundle's models that the bundle lacks: removed with `prune`, else left. */
  staleVersions: { dir: string; outranks: boolean; removed: boolean }[];
}

/** Less free space than this after a failed commit means the disk is the cause. */
const DISK_FULL_BYTES = 1 * MiB;

function checkInputs(files: BundleFile[], remoteDir: string): void {
  checkRemoteDir(remoteDir);
  const seen = new Set<string>();
  for (const f of files) {
    validateRelPath(f.relPath);
    if (seen.has(f.relPath)) {
      throw new OdapiError(`the bundle holds ${f.relPath} twice`, "give every file one path", "config");
    }
    seen.add(f.relPath);
    if (!f.content && !f.localPath) {
      throw new OdapiError(
        `bundle file ${f.relPath} has neither content nor a local path`,
        "report this bug",
        "failure",
      );
    }
  }
}

function sameEntries(a: Record<string, ManifestEntry>, b: Record<string, ManifestEntry>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => {
    const x = a[k] as ManifestEntry;
    const y = b[k];
    return y !== undefined && x.sha256 === y.sha256 && x.size === y.size && x.mtime === y.mtime;
  });
}

async function localBlocksFor(
  files: BundleFile[],
  hashes: HashResults | undefined,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!hashes) return out;
  for (const f of files) {
    if (hashes.blocks.has(stagedPathOf(f.relPath)))
      out.set(f.relPath, await hashBlocks(f, blockSizeFor(f.size)));
  }
  return out;
}

export async function syncBundle(session: SshSession, opts: SyncOptions): Promise<SyncResult> {
  const remoteDir = opts.remoteDir.replace(/\/+$/, "");
  checkInputs(opts.files, remoteDir);
  const log = opts.log ?? (() => undefined);
  const { host } = session.target;
  const channelsWanted = channelCountOf(opts.parallel);
  sweepStaleKeyDirs(); // key copies a SIGKILLed deploy could not remove

  const early = opts.early ?? startEarly(session, { ...opts, remoteDir });
  try {
    const stateRun = opts.state ?? (await session.exec(stateCommand(remoteDir)));
    if (stateRun.code !== 0) throw remoteCommandError(stateCommand(remoteDir), stateRun, session.target);
    const state = parseState(stateRun.stdout);
    const view = { files: state.files, manifest: parseManifest(state.manifestText) };
    const requests = hashRequestsFor(opts.files, view);
    let hashes: HashResults | undefined;
    if (requests.length > 0) {
      log(`checking ${requests.length} remote file(s) whose size/mtime changed since the manifest`);
      hashes = parseHashOutput(
        (await session.run(hashCommand(remoteDir), { stdin: hashRequestText(requests) })).stdout,
      );
    }
    const plan: Plan = planSync(opts.files, view, hashes, await localBlocksFor(opts.files, hashes), {
      prune: opts.prune === true,
    });
    log(
      `plan: ${plan.skipped.length} unchanged, ${plan.verify.length} to place, ${plan.uploads.length} to send (${plan.sendBytes} bytes)`,
    );
    if (state.freeBytes !== undefined && plan.sendBytes > state.freeBytes) {
      throw notEnoughSpaceError(host, plan.sendBytes, state.freeBytes);
    }
    const manifestUnchanged = plan.verify.length === 0 && sameEntries(plan.kept, view.manifest.files);
    const needCommit = plan.verify.length > 0 || plan.finalize.length > 0 || !manifestUnchanged;
    const commit = needCommit ? startPending(session, commitCommand(remoteDir)) : undefined;
    const announce = (v: Plan["verify"][number]) =>
      commit?.write(commitVerifyLine({ sha256: v.file.sha256, staged: v.remotePath, final: v.file.relPath }));

    let sent = 0;
    let channels = 0;
    let rttMs: number | undefined;
    let opensshFiles = 0;
    try {
      if (plan.prepare.length > 0) await session.run(opsCommand(remoteDir), { stdin: opsText(plan.prepare) });
      const sending = new Map(plan.uploads.map((u) => [u.remotePath, u]));
      for (const v of plan.verify) if (!sending.has(v.remotePath)) announce(v);
      const verifyOf = new Map(plan.verify.map((v) => [v.remotePath, v]));
      if (plan.uploads.length > 0) {
        // Not waiting for the early extra channels: they join the sending as they open.
        const [probe, extra] = await Promise.all([early.probe, early.extra]);
        early.handOver(); // sendAll closes every channel it uses
        ({
          sentBytes: sent,
          channels,
          rttMs,
          opensshFiles,
        } = await sendAll({
          session,
          plan,
          remoteDir,
          probe,
          extra,
          openssh: early.openssh,
          channelsWanted,
          transport: opts.transport ?? "ssh2",
          ...(opts.signal ? { signal: opts.signal } : {}),
          ...(opts.log ? { log: opts.log } : {}),
          ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
          onFileDone: (remotePath) => {
            const v = verifyOf.get(remotePath);
            if (v) announce(v);
          },
        }));
      }
    } catch (err) {
      commit?.cancel();
      throw err;
    }

    if (commit && opts.signal?.aborted) {
      // Ctrl-C after the last byte but before the commit: still nothing changes on the server.
      commit.cancel();
      throw uploadErrorOf(new Error("aborted"), {
        host,
        user: session.target.user,
        sentBytes: sent,
        totalBytes: plan.sendBytes,
        connectionLost: false,
        aborted: true,
      });
    }
    if (commit) {
      log("last byte sent: the host finishes its sha256 checks, then renames into place");
      const res = await commit.finish(commitTail({ ops: plan.finalize, kept: plan.kept }));
      const out = parseCommitOutput(res.stdout);
      if (out.mismatches.length > 0 || res.code !== 0 || !out.committed) {
        // A disk that filled up after the data arrived: the commit cannot record its hashes or the manifest.
        const free = await remoteFreeBytes(session, remoteDir);
        if (free !== undefined && free < DISK_FULL_BYTES) {
          throw diskFullError(
            host,
            `${(free / 1e6).toFixed(1)} MB free; the upload could not be verified, nothing was renamed`,
          );
        }
      }
      if (out.mismatches.length > 0) {
        const byStaged = new Map(plan.verify.map((v) => [v.remotePath, v.file.relPath]));
        throw verifyMismatchError(
          host,
          out.mismatches.map((m) => byStaged.get(m) ?? m),
        );
      }
      if (res.code !== 0 || !out.committed)
        throw remoteCommandError(commitCommand(remoteDir), res, session.target);
    }
    log(`done: ${plan.verify.length} placed, ${sent} bytes sent, ${plan.skipped.length} unchanged`);
    if (opts.lastSyncFile !== false) {
      const key = destinationKey(session.target, remoteDir);
      await recordLastSync(key, bundleDigest(opts.files), opts.lastSyncFile ?? defaultLastSyncFile());
    }
    return {
      uploadedFiles: plan.verify.length,
      uploadedBytes: sent,
      skippedFiles: plan.skipped.length,
      channels,
      rttMs,
      opensshFiles,
      staleVersions: plan.stale.map((v) => ({ ...v, removed: plan.prune })),
    };
  } finally {
    await early.close();
  }
}
