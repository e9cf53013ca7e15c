// Deploy step "prepare catalog models": prepares models on the deployed host itself, so a laptop without
// TensorFlow (Apple silicon, Windows) can still deploy. Uploads prepare.py + remote-prepare.sh (and any raw
// SavedModel given), then runs the script once per model (catalog download there, re-export in the pinned
// TensorFlow image, staging dir + rename). What runs is decided by model-prep/remote-job.ts.
import { readFileSync } from "node:fs";
import path from "node:path";
import { OdapiError } from "../../common/errors";
import {
  checkRemoteOptions,
  DEFAULT_REMOTE_TIMEOUT_MS,
  parseRemoteResult,
  type RawSavedModel,
  type RemotePrepareOptions,
  type RemotePrepareResult,
  remoteJobs,
  remotePrepareArgv,
  remoteRawDir,
  remoteToolDir,
  remoteToolFiles,
} from "../../model-prep/remote-job";
import type { SshSession } from "../ssh/session";
import { listLocalFiles } from "../transfer/manifest";
import { wholeLines } from "./lines";

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
    const lines = wholeLines((line) => log(`${job.name}: ${line}`));
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
