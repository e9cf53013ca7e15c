// The remote runner: prepares catalog models on the deployed host itself, so a laptop without TensorFlow
// (Apple silicon, Windows) can still deploy. Uploads prepare.py + remote-prepare.sh, then runs the script
// once per model (download there, re-export in the pinned TensorFlow image, staging dir + rename).
import { readFileSync } from "node:fs";
import path from "node:path";
import type { SshSession } from "../bootstrap/ssh/session";
import { OdapiError } from "../common/errors";
import { catalogEntry } from "./catalog";
import { TENSORFLOW_IMAGE } from "./pins";
import { checkVersion } from "./version";

export interface RemotePrepareOptions {
  catalog: string[];
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

/** The argv that prepares one model on the target (run as root: Docker needs it). */
export function remotePrepareArgv(
  name: string,
  opts: Pick<RemotePrepareOptions, "remoteDir" | "version" | "mirror" | "python">,
): string[] {
  const argv = [
    "bash",
    path.posix.join(remoteToolDir(opts.remoteDir), "remote-prepare.sh"),
    opts.remoteDir,
    name,
    catalogUrl(name, opts.mirror),
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
  if (opts.catalog.length === 0) {
    throw new OdapiError("no catalog model to prepare", "name at least one with --catalog NAME", "usage");
  }
  for (const name of opts.catalog) catalogEntry(name);
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
    if (err instanceof OdapiError) throw err;
    throw new OdapiError(
      `could not upload the model-prep tools to ${dir}: ${(err as Error).message}`,
      `make sure the SSH user can write to ${remoteDir}`,
      "remoteIo",
      { cause: err },
    );
  } finally {
    sftp.end();
  }
}

/** Prepares catalog models on the target; versions already there are skipped (idempotent). */
export async function prepareOnRemote(
  session: SshSession,
  opts: RemotePrepareOptions,
): Promise<RemotePrepareResult> {
  checkRemoteOptions(opts);
  const log = opts.log ?? (() => {});
  await uploadTools(session, opts.remoteDir);
  const result: RemotePrepareResult = { prepared: [], skipped: [] };
  for (const name of opts.catalog) {
    log(`${name}: preparing on ${session.target.host} (version ${opts.version})`);
    const lines = lineSplitter((line) => log(`${name}: ${line}`));
    const res = await session.run(remotePrepareArgv(name, opts), {
      sudo: true,
      onOutput: (c) => lines.push(c),
    });
    lines.flush();
    result[parseRemoteResult(res.stdout, name)].push(name);
  }
  return result;
}
