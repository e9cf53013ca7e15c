// `odapi deploy` as its list of steps (each a module here; the pure plan is plan.ts):
//
// read and check local input (bad input never touches the host) → connect → ensure the remote dir → lock →
// upload (models + rendered serving files, incremental and atomic) while prepare-host.sh (Docker, NVIDIA checks,
// image pull) runs beside it → prepare catalog models on the host → start.sh → wait until every model is
// AVAILABLE and answers one detection → check the API-key gateway → install or remove the idle auto-stop.

import { ExitCode, isOdapiError, OdapiError } from "../../common/errors";
import { formatBytes } from "../../common/format";
import type { ByteProgress } from "../../common/rate-meter";
import { type ConnectOptions, connect, type SshSession, type SshTarget } from "../ssh/session";
import { scanLocalModels, startEarly, stateCommand, type Transport } from "../transfer";
import { ensureRemoteDir } from "./ensure-dir";
import { applyIdleStop } from "./idle-stop";
import { acquireRemoteLock, type RemoteLock } from "./lock";
import {
  type DeployInput,
  type DeployPlan,
  modelNamesOf,
  planDeploy,
  renderedToBundle,
  STEP_TIMEOUT_MS,
} from "./plan";
import { startPrepareHost } from "./prepare-host";
import { startServing } from "./start";
import { staleVersionMessages, uploadBundle } from "./upload";
import type { ReadyEvent } from "./wait-ready";

// Steps only some deploys run are loaded when they run: `--no-start` never needs the REST client.
const stepPrepareModels = (): typeof import("./prepare-models") => require("./prepare-models");
const stepWaitReady = (): typeof import("./wait-ready") => require("./wait-ready");
const stepGateway = (): typeof import("./gateway") => require("./gateway");

export interface DeployOptions extends DeployInput {
  target: SshTarget;
  connect?: ConnectOptions;
  /** How long start → all models AVAILABLE + one detection may take. Default 10 min. */
  waitDeadlineMs?: number;
  sampleImage?: string;
  parallel?: number | "auto";
  /** Remove version dirs of the uploaded models that `--models` does not have (default: keep them, warn when one outranks). */
  prune?: boolean;
  /** Which data path carries whole files (default "auto": the OpenSSH sftp client when installed and one channel suffices). */
  transport?: Transport;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Detail lines (the upload engine's plan and channels), shown with --verbose. */
  debug?: (line: string) => void;
  onUpload?: (p: ByteProgress) => void;
  onReady?: (e: ReadyEvent) => void;
}

export interface DeployResult {
  uploadedFiles: number;
  uploadedBytes: number;
  skippedFiles: number;
  models: string[];
  seconds: number;
}

/** Ctrl-C between steps: stop before the next one (the upload engine handles it within the upload). */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new OdapiError(
      "deploy cancelled; finished steps are kept",
      "rerun the same command to continue: verified files are skipped",
      "failure",
    );
  }
}

export async function deploy(opts: DeployOptions): Promise<DeployResult> {
  const t0 = Date.now();
  const log = opts.log ?? (() => undefined);

  // Local input first: a typo in --models fails before anything happens on the host.
  const localFiles = opts.modelsDir ? await scanLocalModels(opts.modelsDir) : [];
  const plan = planDeploy(opts, modelNamesOf(localFiles), opts.target.user);
  const files = [...localFiles, ...renderedToBundle(plan.renderedFiles)];

  log(`connecting to ${opts.target.user}@${opts.target.host}:${opts.target.port}`);
  const connecting = connect(opts.target, { log, ...opts.connect });
  // The upload's first channel, round trip and OpenSSH login start now (the login alongside the connect when the
  // host key is pinned): they overlap the dir check and the lock.
  const early = startEarly(connecting, {
    files,
    remoteDir: plan.remoteDir,
    target: opts.target,
    transport: opts.transport ?? "auto",
    ...(opts.parallel !== undefined ? { parallel: opts.parallel } : {}),
    ...(opts.debug ? { log: opts.debug } : {}),
  });
  const session = await connecting.catch(async (err) => {
    await early.close();
    throw err;
  });
  let lock: RemoteLock | undefined;
  try {
    lock = await ensureDirAndLock(session, plan);

    // Docker install + image pull (root, on its own channel) overlap the upload; both must finish before going on.
    const needsDocker = Boolean(plan.start) || plan.catalog.length > 0;
    const hostReady = needsDocker
      ? startPrepareHost(
          session,
          { argv: plan.prepareHost.argv, timeoutMs: STEP_TIMEOUT_MS.prepareHost },
          log,
        )
      : Promise.resolve(undefined);
    if (needsDocker) log(`preparing the host (${plan.serving.host}) while uploading`);

    log(`uploading to ${plan.remoteDir} (${files.length} files, models: ${plan.models.join(", ")})`);
    const upload = uploadBundle(session, {
      files,
      remoteDir: plan.remoteDir,
      ...(opts.parallel !== undefined ? { parallel: opts.parallel } : {}),
      transport: opts.transport ?? "auto",
      prune: opts.prune === true,
      ...(opts.debug ? { debug: opts.debug } : {}),
      ...(opts.onUpload ? { onProgress: opts.onUpload } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      early,
      ...(lock.underLock ? { state: lock.underLock } : {}),
    });
    // allSettled: never leave prepare-host (apt, dpkg) cut off mid-way because the upload failed first.
    const [synced, prepared] = await Promise.allSettled([upload, hostReady]);
    if (synced.status === "rejected") throw synced.reason;
    if (prepared.status === "rejected") throw prepared.reason;
    const sync = synced.value;
    log(
      `uploaded ${sync.uploadedFiles} files (${formatBytes(sync.uploadedBytes)}), ${sync.skippedFiles} unchanged`,
    );
    for (const line of staleVersionMessages(sync.staleVersions)) log(line);

    throwIfCancelled(opts.signal);
    if (plan.catalog.length) {
      const r = await stepPrepareModels().prepareOnRemote(session, {
        catalog: plan.catalog,
        remoteDir: plan.remoteDir,
        version: opts.version ?? 1,
        log,
      });
      log(
        `catalog models: prepared ${r.prepared.join(", ") || "none"}; already there ${r.skipped.join(", ") || "none"}`,
      );
    }
    throwIfCancelled(opts.signal);
    if (plan.start) {
      await startServing(session, { argv: plan.start.argv, timeoutMs: STEP_TIMEOUT_MS.start }, log);
      await stepWaitReady().waitServingOverSsh(
        session,
        plan.start.internalRestPort,
        plan.models,
        {
          deadlineMs: opts.waitDeadlineMs ?? 10 * 60_000,
          ...(opts.sampleImage ? { sampleImage: opts.sampleImage } : {}),
          ...(opts.onReady ? { onProgress: opts.onReady } : {}),
        },
        log,
      );
      if (plan.start.gatewayPort !== undefined && opts.apiKey) {
        const tls = plan.serving.tls;
        await stepGateway().checkGateway(
          session,
          plan.start.gatewayPort,
          plan.models,
          opts.apiKey,
          tls ? { identity: tls, serverName: opts.target.host } : undefined,
        );
        log(
          `gateway: port ${plan.start.gatewayPort} (${tls ? "HTTPS" : "plain HTTP"}) passes requests with the API key to every model`,
        );
      }
    }
    // Last: a host never powers itself off over a deploy that has not proved it serves.
    if (plan.idleStop) await applyIdleStop(session, plan.idleStop, log);
    return {
      uploadedFiles: sync.uploadedFiles,
      uploadedBytes: sync.uploadedBytes,
      skippedFiles: sync.skippedFiles,
      models: plan.models,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
    };
  } finally {
    // Both wait on the host (the sftp client's exit, the lock holder's): one round trip, not two.
    await Promise.all([early.close(), lock?.release().catch(() => undefined)]);
    await session.close();
  }
}

/**
 * The dir check and the lock (which also reads the upload's remote state) go out together: one round trip
 * of commands instead of three. A dir only sudo could create fails the first lock attempt; it is taken again
 * once the dir exists.
 */
async function ensureDirAndLock(session: SshSession, plan: DeployPlan): Promise<RemoteLock> {
  const take = () => acquireRemoteLock(session, plan.remoteDir, { underLock: stateCommand(plan.remoteDir) });
  const [dir, locked] = await Promise.allSettled([ensureRemoteDir(session, plan), take()]);
  if (dir.status === "rejected") {
    if (locked.status === "fulfilled") await locked.value.release().catch(() => undefined);
    throw dir.reason;
  }
  if (locked.status === "fulfilled") return locked.value;
  if (isOdapiError(locked.reason) && locked.reason.exitCode === ExitCode.locked) throw locked.reason;
  return take();
}
