// `odapi deploy` orchestration: a pure plan (what runs, with which argv, as whom), then one SSH session runs it.
//
// Order: local input is read and checked before connecting (bad input never touches the host) → connect →
// remote dir → lock → upload (models + rendered serving files, incremental and atomic) while prepare-host.sh
// (Docker, NVIDIA checks, image pull) runs beside it → catalog models prepared on the host → start.sh → wait
// through an SSH tunnel until every model is AVAILABLE and answers one detection.
import { getModelStatus } from "../../client/api";
import { OdapiError } from "../../common/errors";
import { formatBytes } from "../../common/format";
import { validateModelName } from "../../common/model-name";
import { checkRemoteDir } from "../../common/remote-dir";
import { catalogEntry } from "../../model-prep/catalog";
import { checkVersion } from "../../model-prep/version";
import {
  type HostKind,
  type RenderedFile,
  renderServingFiles,
  SCRIPTS,
  type ServingOptions,
  scriptArgv,
  servingPorts,
} from "../../serving";
import { diskFullError } from "../ssh/errors";
import { type ConnectOptions, connect, type SshSession, type SshTarget } from "../ssh/session";
import {
  type BundleFile,
  bundleFileFromContent,
  remoteFreeBytes,
  scanLocalModels,
  syncBundle,
  type Transport,
} from "../transfer";
import { acquireRemoteLock, type RemoteLock } from "./lock";
import { prepareOnRemote } from "./prepare-models";
import {
  isTransientWhileStarting,
  type ModelReady,
  pollDelayMs,
  type ReadyEvent,
  waitUntilServing,
} from "./wait-ready";

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

export interface DeployInput {
  remoteDir: string;
  /** Local dir laid out as `<name>/<version>/saved_model.pb …` (what `odapi prepare` writes). */
  modelsDir?: string;
  /** Catalog models prepared on the host itself. */
  catalog?: string[];
  /** Version number for catalog models. */
  version?: number;
  gpu?: boolean;
  /** Run start.sh and wait for the models; default true. */
  start?: boolean;
  apiKey?: string;
  publicPort?: number;
}

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
  onUpload?: (p: { sentBytes: number; totalBytes: number; bytesPerSecond: number }) => void;
  onReady?: (e: ReadyEvent) => void;
}

export interface DeployResult {
  uploadedFiles: number;
  uploadedBytes: number;
  skippedFiles: number;
  models: string[];
  seconds: number;
}

export interface DeployPlan {
  remoteDir: string;
  models: string[];
  serving: ServingOptions;
  /** Bundle entries rendered here (scripts, configs, deploy record); model files come from the local scan. */
  renderedFiles: RenderedFile[];
  ensureDir: { argv: string[]; privilegedArgv: string[] };
  prepareHost: { argv: string[]; sudo: true };
  catalog: string[];
  /** gatewayPort: the public port when the API-key gateway fronts TF Serving (checked after the wait). */
  start?: { argv: string[]; sudo: true; internalRestPort: number; gatewayPort?: number };
}

/** Caps on remote steps that could otherwise wait forever (apt behind a stuck lock, a registry that stalls). */
export const STEP_TIMEOUT_MS = { prepareHost: 30 * 60_000, start: 20 * 60_000 } as const;

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

/** Where deploy records what it deployed (read by `odapi status`), relative to remoteDir. */
export const DEPLOY_RECORD = "config/deploy.json";

export interface DeployRecord {
  models: string[];
  host: HostKind;
  publicPort: number;
  internalRestPort: number;
  gateway: boolean;
}

/** Model names in a bundle: the `<name>` of every `models/<name>/<version>/…` path (pure). */
export function modelNamesOf(files: Pick<BundleFile, "relPath">[]): string[] {
  const names = new Set<string>();
  for (const f of files) {
    const [top, name] = f.relPath.split("/");
    if (top === "models" && name) names.add(name);
  }
  return [...names].sort();
}

const ENSURE_DIR_SCRIPT =
  'for d in "$@"; do mkdir -p -- "$d" || exit 1; test -w "$d" || { echo "$d is not writable (owner or read-only filesystem)" >&2; exit 1; }; done';

/**
 * Create the dir and its models/ and config/ as the SSH user, checking they are writable, in one round trip;
 * when refused, `install -d -o <user>` as root (also fixes dirs left owned by root), then the same check again.
 * They exist before prepare-host.sh runs (as root, alongside the upload), so it never creates them root-owned.
 */
export function ensureDirArgv(dir: string, user: string): { argv: string[]; privilegedArgv: string[] } {
  const sub = [dir, `${dir}/models`, `${dir}/config`];
  return {
    argv: ["sh", "-c", ENSURE_DIR_SCRIPT, "sh", ...sub],
    privilegedArgv: ["install", "-d", "-o", user, "-m", "0755", ...sub],
  };
}

/**
 * prepare-host.sh runs from its rendered text (`bash -c TEXT prepare-host.sh`), so it can start before the upload
 * has placed the file: Docker installs and the image pulls while the models upload. Same script, same checks.
 */
export function prepareHostArgv(files: RenderedFile[]): string[] {
  const script = files.find((f) => f.path === SCRIPTS.prepareHost);
  if (!script) throw new Error("renderServingFiles returned no prepare-host.sh");
  return ["bash", "-c", script.content, SCRIPTS.prepareHost];
}

/** Everything deploy will do, decided from the input and the local model names, without I/O. */
export function planDeploy(input: DeployInput, localModels: string[], user: string): DeployPlan {
  const remoteDir = checkRemoteDir(input.remoteDir);
  const catalog = [...new Set(input.catalog ?? [])];
  const models = [...new Set([...localModels, ...catalog])].sort();
  if (models.length === 0) {
    throw new OdapiError(
      "nothing to deploy: no models given",
      "pass --models DIR (prepared with `odapi prepare`) and/or --catalog NAME (prepared on the host)",
      "usage",
    );
  }
  for (const m of models) validateModelName(m);
  const clash = catalog.filter((c) => localModels.includes(c));
  if (clash.length) {
    throw new OdapiError(
      `model ${clash.join(", ")} is both in --models and --catalog`,
      "deploy each model from one source: drop it from --catalog or remove it from the models dir",
      "usage",
    );
  }
  // Checked here, not first on the host: a typo must not install Docker and upload before it is noticed.
  for (const name of catalog) catalogEntry(name);
  if (catalog.length) checkVersion(input.version ?? 1);
  const serving: ServingOptions = {
    host: input.gpu ? "gpu" : "cpu",
    remoteDir,
    models: models.map((name) => ({ name })),
    ...(input.publicPort ? { publicPort: input.publicPort } : {}),
    ...(input.apiKey ? { apiKey: input.apiKey } : {}),
  };
  const ports = servingPorts(serving);
  const record: DeployRecord = {
    models,
    host: serving.host,
    publicPort: ports.public,
    internalRestPort: ports.internalRest,
    gateway: Boolean(input.apiKey),
  };
  const renderedFiles = [
    ...renderServingFiles(serving),
    { path: DEPLOY_RECORD, content: `${JSON.stringify(record, null, 2)}\n`, mode: 0o644 },
  ];
  return {
    remoteDir,
    models,
    serving,
    renderedFiles,
    ensureDir: ensureDirArgv(remoteDir, user),
    prepareHost: { argv: prepareHostArgv(renderedFiles), sudo: true },
    catalog,
    ...(input.start === false
      ? {}
      : {
          start: {
            argv: scriptArgv(remoteDir, SCRIPTS.start),
            sudo: true,
            internalRestPort: ports.internalRest,
            ...(input.apiKey ? { gatewayPort: ports.public } : {}),
          },
        }),
  };
}

/** Rendered files as bundle entries (content in memory, hashed here). Pure. */
export function renderedToBundle(files: RenderedFile[]): BundleFile[] {
  return files.map((f) => bundleFileFromContent(f.path, f.content, f.mode));
}

/** Whether an upload failure is the remote disk filling up (SFTP status 4 carries the server's "No space" text). */
export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  const text = `${String(e?.message ?? "")} ${String((e?.cause as Error | undefined)?.message ?? "")}`;
  return e?.code === "ENOSPC" || /No space left|ENOSPC|disk quota/i.test(text);
}

/** The error when --remote-dir cannot be made writable for the SSH user (pure). */
export function remoteDirError(host: string, user: string, remoteDir: string, stderr: string): OdapiError {
  const why = stderr.trim().split("\n").pop() || "not writable";
  return new OdapiError(
    `cannot create or write --remote-dir ${remoteDir} on ${host} as ${user}: ${why}`,
    `choose a dir ${user} can write (e.g. under ~${user}) on a writable filesystem; as a non-root user, passwordless sudo lets deploy create it`,
    "remoteIo",
  );
}

/** Creates the remote dir (and models/, config/) for the SSH user, through sudo when needed; deploy and
 * `odapi prepare --runner remote` both start here, so either can be the first command on a fresh host. */
export async function ensureRemoteDir(
  session: SshSession,
  plan: Pick<DeployPlan, "remoteDir" | "ensureDir">,
): Promise<void> {
  if ((await session.exec(plan.ensureDir.argv)).code === 0) return;
  const { host, user } = session.target;
  // Only root can hand the dir to the user; a sudo failure (no sudo, password needed) explains itself.
  if (user !== "root") await session.run(plan.ensureDir.privilegedArgv, { sudo: true });
  const again = await session.exec(plan.ensureDir.argv);
  if (again.code !== 0) throw remoteDirError(host, user, plan.remoteDir, again.stderr);
}

async function diskFullDetail(session: SshSession, remoteDir: string): Promise<string> {
  const free = await remoteFreeBytes(session, remoteDir);
  return free === undefined ? "" : `${Math.round(free / 1024 / 1024)} MiB free in ${remoteDir}`;
}

export async function deploy(opts: DeployOptions): Promise<DeployResult> {
  const t0 = Date.now();
  const log = opts.log ?? (() => undefined);

  // Local input first: a typo in --models fails before anything happens on the host.
  const localFiles = opts.modelsDir ? await scanLocalModels(opts.modelsDir) : [];
  const plan = planDeploy(opts, modelNamesOf(localFiles), opts.target.user);
  const files = [...localFiles, ...renderedToBundle(plan.renderedFiles)];

  log(`connecting to ${opts.target.user}@${opts.target.host}:${opts.target.port}`);
  const session = await connect(opts.target, { log, ...opts.connect });
  let lock: RemoteLock | undefined;
  try {
    await ensureRemoteDir(session, plan);
    lock = await acquireRemoteLock(session, plan.remoteDir);

    // Docker install + image pull (root, on its own channel) overlap the upload; both must finish before going on.
    const needsDocker = Boolean(plan.start) || plan.catalog.length > 0;
    const hostReady = needsDocker
      ? session.run(plan.prepareHost.argv, {
          sudo: true,
          timeoutMs: STEP_TIMEOUT_MS.prepareHost,
          onOutput: lineLogger((l) => log(`prepare-host: ${l}`)),
        })
      : Promise.resolve(undefined);
    if (needsDocker) log(`preparing the host (${plan.serving.host}) while uploading`);

    log(`uploading to ${plan.remoteDir} (${files.length} files, models: ${plan.models.join(", ")})`);
    const upload = untilConnectionLost(
      session,
      syncBundle(session, {
        files,
        remoteDir: plan.remoteDir,
        ...(opts.parallel !== undefined ? { parallel: opts.parallel } : {}),
        transport: opts.transport ?? "auto",
        prune: opts.prune === true,
        ...(opts.debug ? { log: opts.debug } : {}),
        ...(opts.onUpload ? { onProgress: opts.onUpload } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
    ).catch(async (err) => {
      if (isDiskFull(err))
        throw diskFullError(session.target.host, await diskFullDetail(session, plan.remoteDir));
      throw err;
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
      const r = await prepareOnRemote(session, {
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
      log(`starting TF Serving: ${plan.start.argv.join(" ")}`);
      await session.run(plan.start.argv, {
        sudo: true,
        timeoutMs: STEP_TIMEOUT_MS.start,
        onOutput: lineLogger(log),
      });
      // Through the SSH connection: works before the firewall admits us, and never exposes the internal port.
      const tunnel = await session.forwardPort(plan.start.internalRestPort);
      try {
        const ready: ModelReady[] = await waitUntilServing(
          `http://127.0.0.1:${tunnel.localPort}`,
          plan.models,
          {
            deadlineMs: opts.waitDeadlineMs ?? 10 * 60_000,
            ...(opts.sampleImage ? { sampleImage: opts.sampleImage } : {}),
            ...(opts.onReady ? { onProgress: opts.onReady } : {}),
          },
        );
        for (const r of ready) {
          log(
            `${r.model}: AVAILABLE (version ${r.versions.join(", ")}), ${r.detections} detections, top score ${r.topScore.toFixed(2)}, ${r.latencyMs} ms`,
          );
        }
      } finally {
        await tunnel.close();
      }
      if (plan.start.gatewayPort !== undefined && opts.apiKey) {
        await checkGateway(session, plan.start.gatewayPort, plan.models, opts.apiKey);
        log(`gateway: port ${plan.start.gatewayPort} passes requests with the API key to every model`);
      }
    }
    return {
      uploadedFiles: sync.uploadedFiles,
      uploadedBytes: sync.uploadedBytes,
      skippedFiles: sync.skippedFiles,
      models: plan.models,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
    };
  } finally {
    await lock?.release().catch(() => undefined);
    await session.close();
  }
}

/** How long the API-key gateway may take to pass its first request on (nginx starts in well under a second). */
export const GATEWAY_CHECK_MS = 60_000;

/**
 * The wait above talks to TF Serving directly; clients go through the gateway. One status request per model
 * through the gateway's port, with the key, proves that path too (nginx config, key, name resolution to TF Serving).
 */
async function checkGateway(
  session: SshSession,
  port: number,
  models: string[],
  apiKey: string,
): Promise<void> {
  const tunnel = await session.forwardPort(port);
  const url = `http://127.0.0.1:${tunnel.localPort}`;
  const deadline = Date.now() + GATEWAY_CHECK_MS;
  try {
    for (const model of models) {
      for (let attempt = 0; ; attempt++) {
        try {
          await getModelStatus(url, model, { apiKey, timeoutMs: 10_000 });
          break;
        } catch (err) {
          if (isTransientWhileStarting(err) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, pollDelayMs(attempt, 250, 2000)));
            continue;
          }
          throw new OdapiError(
            `TF Serving answers, but the API-key gateway on port ${port} does not pass requests on: ${(err as Error).message}`,
            "read the gateway's log (odapi logs, or sudo docker logs odapi-gateway on the host), fix the cause and deploy again",
            "serverError",
            { cause: err },
          );
        }
      }
    }
  } finally {
    await tunnel.close();
  }
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

/** Streams remote output to `log` one whole line at a time. */
export function lineLogger(log: (line: string) => void): (chunk: string) => void {
  let rest = "";
  return (chunk) => {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    for (const line of parts) if (line.trim()) log(`  ${line}`);
  };
}
