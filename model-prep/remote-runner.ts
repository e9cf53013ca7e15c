// The remote runner: prepares models on the deployed host itself, so a laptop without TensorFlow (Apple
// silicon, Windows) can still deploy. Uploads prepare.py + remote-prepare.sh (and any raw SavedModel given),
// then runs the script once per model (catalog download there, re-export in the pinned TensorFlow image,
// staging dir + rename).
import { readFileSync } from "node:fs";
import path from "node:path";
import type { SshSession } from "../bootstrap/ssh/session";
import { listLocalFiles } from "../bootstrap/transfer/manifest";
import { OdapiError } from "../common/errors";
import { validateModelName } from "../serving/validate";
import { catalogEntry } from "./catalog";
import { TENSORFLOW_IMAGE } from "./pins";
import { checkVersion } from "./version";

export interface RawSavedModel {
  /** Served model name. */
  name: string;
  /** Local dir holding saved_model.pb (a detector that is not prepared yet). */
  dir: string;
}

export interface RemotePrepareOptions {
  catalog: string[];
  /** Your own detectors: uploaded raw to `<remoteDir>/.odapi/raw/<name>/`, prepared there, then removed. */
  savedModels?: RawSavedModel[];
  /** Upload progress of the raw SavedModels. */
  onUpload?: (p: { sentBytes: number; totalBytes: number; bytesPerSecond: number }) => void;
  /** Absolute dir on the target; models land in `<remoteDir>/models/<name>/<version>/`. */
  remoteDir: string;
  version: number;
  log?: (line: string) => void;
  /** Base URL replacing `https://www.kaggle.com/api/v1/models` (a mirror); `<base>/<handle>/download` is fetched. */
  mirror?: string;
  /** Run prepare.py with this Python (which has TensorFlow 2.20) on the host instead of the Docker image. */
  python?: string;
  /** Limit per model: download + image pull + export (default 45 min); a rerun resumes the download. */
  timeoutMs?: number;
}

export const DEFAULT_REMOTE_TIMEOUT_MS = 45 * 60_000;

export interface RemotePrepareResult {
  prepared: string[];
  skipped: string[];
}

/** Where the runner's files live on the target. */
export function remoteToolDir(remoteDir: string): string {
  return path.posix.join(remoteDir, ".odapi", "model-prep");
}

/** Local files uploaded to remoteToolDir: name there → local path. */
export function remoteToolFiles(): { name: string; localPath: string; mode: number }[] {
  return [
    { name: "prepare.py", localPath: path.join(__dirname, "prepare.py"), mode: 0o644 },
    { name: "remote-prepare.sh", localPath: path.join(__dirname, "remote-prepare.sh"), mode: 0o755 },
    { name: "warmup.jpg", localPath: path.join(__dirname, "..", "samples", "astronaut.jpg"), mode: 0o644 },
  ];
}

/** The download URL for a catalog model, from Kaggle or from a mirror with the same layout. */
export function catalogUrl(name: string, mirror?: string): string {
  const entry = catalogEntry(name);
  return mirror ? `${mirror.replace(/\/+$/, "")}/${entry.kaggleHandle}/download` : entry.url;
}

/** Where a raw SavedModel is uploaded on the target before it is prepared. */
export function remoteRawDir(remoteDir: string, name: string): string {
  return path.posix.join(remoteDir, ".odapi", "raw", name);
}

/** One model to prepare on the target: what remote-prepare.sh gets as SOURCE. */
export interface RemoteJob {
  name: string;
  /** A tar.gz URL, or `dir:<abs path>` of an uploaded SavedModel. */
  source: string;
}

/** Catalog models first, then the raw SavedModels, as the script's jobs. Pure. */
export function remoteJobs(
  opts: Pick<RemotePrepareOptions, "catalog" | "savedModels" | "mirror" | "remoteDir">,
): RemoteJob[] {
  return [
    ...opts.catalog.map((name) => ({ name, source: catalogUrl(name, opts.mirror) })),
    ...(opts.savedModels ?? []).map((m) => ({
      name: m.name,
      source: `dir:${remoteRawDir(opts.remoteDir, m.name)}`,
    })),
  ];
}

/** The argv that prepares one model on the target (run as root: Docker needs it). */
export function remotePrepareArgv(
  job: RemoteJob,
  opts: Pick<RemotePrepareOptions, "remoteDir" | "version" | "python">,
): string[] {
  const argv = [
    "bash",
    path.posix.join(remoteToolDir(opts.remoteDir), "remote-prepare.sh"),
    opts.remoteDir,
    job.name,
    job.source,
    String(opts.version),
    TENSORFLOW_IMAGE,
  ];
  return opts.python ? [...argv, opts.python] : argv;
}

/** Reads the script's `odapi-result: prepared|skipped NAME VERSION` line. */
export function parseRemoteResult(stdout: string, name: string): "prepared" | "skipped" {
  const m = /^odapi-result: (prepared|skipped) (\S+) /m.exec(stdout);
  if (!m || m[2] !== name) {
    throw new OdapiError(
      `the host did not report a result for ${name}`,
      "rerun with --verbose and check the host's output above",
      "remoteIo",
    );
  }
  return m[1] as "prepared" | "skipped";
}

function checkRemoteOptions(opts: RemotePrepareOptions): void {
  if (!path.posix.isAbsolute(opts.remoteDir)) {
    throw new OdapiError(
      `remote dir "${opts.remoteDir}" is not absolute`,
      "pass an absolute path, e.g. /opt/odapi",
      "usage",
    );
  }
  checkVersion(opts.version);
  const raw = opts.savedModels ?? [];
  if (opts.catalog.length === 0 && raw.length === 0) {
    throw new OdapiError(
      "no model to prepare",
      "name at least one with --catalog NAME or --saved-model DIR --name NAME",
      "usage",
    );
  }
  for (const name of opts.catalog) catalogEntry(name);
  const names = new Set(opts.catalog);
  for (const m of raw) {
    validateModelName(m.name);
    if (names.has(m.name))
      throw new OdapiError(`model ${m.name} is named twice`, "list each model once", "usage");
    names.add(m.name);
  }
}

/** Splits streamed output into whole lines for the log callback. */
function lineSplitter(log: (line: string) => void): { push(chunk: string): void; flush(): void } {
  let rest = "";
  return {
    push(chunk) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) if (line.trim()) log(line);
    },
    flush() {
      if (rest.trim()) log(rest);
      rest = "";
    },
  };
}

function uploadError(what: string, remoteDir: string, err: unknown): OdapiError {
  if (err instanceof OdapiError) return err;
  return new OdapiError(
    `could not upload ${what}: ${(err as Error).message}`,
    `make sure the SSH user can write to ${remoteDir} and the disk has room`,
    "remoteIo",
    { cause: err },
  );
}

/** Uploads the runner's files: each to a temp name, then renamed, so a half-written script never runs. */
async function uploadTools(session: SshSession, remoteDir: string): Promise<void> {
  const dir = remoteToolDir(remoteDir);
  await session.run(["mkdir", "-p", dir]);
  const sftp = await session.sftp();
  try {
    for (const f of remoteToolFiles()) {
      const target = path.posix.join(dir, f.name);
      const tmp = `${target}.tmp-${process.pid}`;
      await new Promise<void>((resolve, reject) =>
        sftp.writeFile(tmp, readFileSync(f.localPath), { mode: f.mode }, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
      await session.run(["mv", "-f", tmp, target]);
    }
  } catch (err) {
    throw uploadError(`the model-prep tools to ${dir}`, remoteDir, err);
  } finally {
    sftp.end();
  }
}

/** Uploads a raw SavedModel into `<raw>.uploading`, then swaps it in: the script never sees half a model. */
async function uploadRaw(
  session: SshSession,
  opts: RemotePrepareOptions,
  model: RawSavedModel,
): Promise<void> {
  const files = await listLocalFiles(model.dir);
  if (!files.some((f) => f.rel === "saved_model.pb")) {
    throw new OdapiError(
      `no SavedModel at ${model.dir} (saved_model.pb is missing)`,
      "point --saved-model at the directory that holds saved_model.pb and variables/",
      "notFound",
    );
  }
  const raw = remoteRawDir(opts.remoteDir, model.name);
  const staging = `${raw}.uploading`;
  const dirs = [...new Set(files.map((f) => path.posix.dirname(f.rel)).filter((d) => d !== "."))];
  await session.run(["rm", "-rf", staging]);
  await session.run(["mkdir", "-p", staging, ...dirs.map((d) => path.posix.join(staging, d))]);
  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  const started = Date.now();
  let done = 0;
  const sftp = await session.sftp();
  try {
    for (const f of files) {
      await new Promise<void>((resolve, reject) =>
        sftp.fastPut(
          f.abs,
          path.posix.join(staging, f.rel),
          {
            step: (sent) => {
              const sentBytes = done + sent;
              opts.onUpload?.({
                sentBytes,
                totalBytes,
                bytesPerSecond: sentBytes / Math.max(0.001, (Date.now() - started) / 1000),
              });
            },
          },
          (err) => (err ? reject(err) : resolve()),
        ),
      );
      done += f.size;
    }
  } catch (err) {
    throw uploadError(`${model.dir} to ${staging}`, opts.remoteDir, err);
  } finally {
    sftp.end();
  }
  await session.run(["rm", "-rf", raw]);
  await session.run(["mv", staging, raw]);
}

/** True when the version is already prepared on the target (so nothing needs uploading). */
async function alreadyPrepared(
  session: SshSession,
  opts: RemotePrepareOptions,
  name: string,
): Promise<boolean> {
  const pb = path.posix.join(opts.remoteDir, "models", name, String(opts.version), "saved_model.pb");
  return (await session.exec(["test", "-f", pb])).code === 0;
}

/** Prepares models on the target; versions already there are skipped (idempotent). */
export async function prepareOnRemote(
  session: SshSession,
  opts: RemotePrepareOptions,
): Promise<RemotePrepareResult> {
  checkRemoteOptions(opts);
  const log = opts.log ?? (() => {});
  await uploadTools(session, opts.remoteDir);
  const result: RemotePrepareResult = { prepared: [], skipped: [] };
  const raw = new Map((opts.savedModels ?? []).map((m) => [m.name, m]));
  for (const job of remoteJobs(opts)) {
    const upload = raw.get(job.name);
    if (upload) {
      if (await alreadyPrepared(session, opts, job.name)) {
        log(`${job.name}: version ${opts.version} is already on ${session.target.host}`);
        result.skipped.push(job.name);
        continue;
      }
      log(`${job.name}: uploading ${upload.dir}`);
      await uploadRaw(session, opts, upload);
    }
    log(`${job.name}: preparing on ${session.target.host} (version ${opts.version})`);
    const lines = lineSplitter((line) => log(`${job.name}: ${line}`));
    const res = await session.run(remotePrepareArgv(job, opts), {
      sudo: true,
      onOutput: (c) => lines.push(c),
      timeoutMs: opts.timeoutMs ?? DEFAULT_REMOTE_TIMEOUT_MS,
    });
    lines.flush();
    result[parseRemoteResult(res.stdout, job.name)].push(job.name);
    // The raw upload has served its purpose; the prepared version holds its weights.
    if (upload) await session.run(["rm", "-rf", remoteRawDir(opts.remoteDir, job.name)]);
  }
  return result;
}
