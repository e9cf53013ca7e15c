// What a prepare on the deployed host runs (pure): the job list, the script's argv, the tool files it needs and
// how its result line reads. The SSH side that uploads and runs them is bootstrap/deploy/prepare-models.ts.
import path from "node:path";
import { OdapiError } from "../common/errors";
import { validateModelName } from "../common/model-name";
import { DEFAULT_SAMPLE_IMAGE, projectFile } from "../common/paths";
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
    { name: "prepare.py", localPath: projectFile("model-prep", "prepare.py"), mode: 0o644 },
    { name: "remote-prepare.sh", localPath: projectFile("model-prep", "remote-prepare.sh"), mode: 0o755 },
    { name: "warmup.jpg", localPath: DEFAULT_SAMPLE_IMAGE, mode: 0o644 },
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

export function checkRemoteOptions(opts: RemotePrepareOptions): void {
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
