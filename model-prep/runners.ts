// Where prepare.py runs on this machine: the project venv (Python 3 found) or the pinned TensorFlow image.
// The argv of each is built by a pure function; running it streams prepare.py's progress lines.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { type ExitCodeName, OdapiError, parseRemoteErrorLine } from "../common/errors";
import { DEFAULT_SAMPLE_IMAGE, PROJECT_ROOT } from "../common/paths";
import { TENSORFLOW_IMAGE } from "./pins";

export type RunnerKind = "venv" | "docker" | "remote";
export const RUNNERS: readonly RunnerKind[] = ["venv", "docker", "remote"];
export type IfExists = "fail" | "skip" | "replace";

export const REPO_ROOT = PROJECT_ROOT;
export const DEFAULT_WARMUP_IMAGE = DEFAULT_SAMPLE_IMAGE;

export interface PrepareJob {
  name: string;
  /** Local dir holding saved_model.pb. */
  savedModelDir: string;
}

export interface LocalPrepareOptions {
  /** Models root: writes `<outDir>/<name>/<version>/`. */
  outDir: string;
  version: number;
  ifExists: IfExists;
  maxDetections?: number;
  warmupImage?: string;
}

/** prepare.py's JSON result line. */
export interface PreparedModel {
  name: string;
  version: number;
  path: string;
  status: "prepared" | "skipped";
  maxDetections?: number;
  seconds?: number;
}

/** The runner to use and why, so the CLI can say which it used. Pure. */
export function chooseRunner(
  requested: RunnerKind | undefined,
  probe: { python: boolean },
): { kind: RunnerKind; reason: string } {
  if (requested) return { kind: requested, reason: `--runner ${requested}` };
  return probe.python
    ? { kind: "venv", reason: "Python 3 found: TensorFlow runs in the project venv (.venv)" }
    : { kind: "docker", reason: `no Python 3 found: TensorFlow runs in the ${TENSORFLOW_IMAGE} image` };
}

/** prepare.py's flags for paths as the process running it sees them. Pure. */
export function prepareFlags(
  name: string,
  paths: { savedModel: string; out: string; warmup: string },
  opts: Pick<LocalPrepareOptions, "version" | "ifExists" | "maxDetections">,
): string[] {
  const flags = [
    "--saved-model",
    paths.savedModel,
    "--out",
    paths.out,
    "--name",
    name,
    "--version",
    String(opts.version),
    "--warmup-image",
    paths.warmup,
    "--if-exists",
    opts.ifExists,
  ];
  if (opts.maxDetections !== undefined) flags.push("--max-detections", String(opts.maxDetections));
  return [...flags, "--json"];
}

/** Creates or refreshes the project venv from requirements.lock.txt (a no-op when up to date). */
export function ensureVenvArgv(repoRoot = REPO_ROOT): string[] {
  return ["bash", path.join(repoRoot, "scripts", "ensure-venv.sh")];
}

export function venvPrepareArgv(job: PrepareJob, opts: LocalPrepareOptions, repoRoot = REPO_ROOT): string[] {
  return [
    path.join(repoRoot, ".venv", "bin", "python"),
    path.join(repoRoot, "model-prep", "prepare.py"),
    ...prepareFlags(
      job.name,
      {
        savedModel: path.resolve(job.savedModelDir),
        out: path.resolve(opts.outDir),
        warmup: path.resolve(opts.warmupImage ?? DEFAULT_WARMUP_IMAGE),
      },
      opts,
    ),
  ];
}

/** Mount points inside the TensorFlow container. */
const IN = { tool: "/odapi/tool", model: "/odapi/in", out: "/odapi/out", warmup: "/odapi/warmup-image" };

/** `docker run` of prepare.py in the pinned image: input read-only, no network, files owned by `user`. Pure. */
export function dockerPrepareArgv(
  job: PrepareJob,
  opts: LocalPrepareOptions,
  user?: { uid: number; gid: number },
  repoRoot = REPO_ROOT,
): string[] {
  const mount = (host: string, inside: string, ro: boolean) => [
    "-v",
    `${path.resolve(host)}:${inside}${ro ? ":ro" : ""}`,
  ];
  return [
    "docker",
    "run",
    "--rm",
    "--network",
    "none",
    ...(user ? ["--user", `${user.uid}:${user.gid}`] : []),
    "-e",
    "HOME=/tmp",
    "-e",
    "TF_CPP_MIN_LOG_LEVEL=2",
    ...mount(path.join(repoRoot, "model-prep"), IN.tool, true),
    ...mount(job.savedModelDir, IN.model, true),
    ...mount(opts.outDir, IN.out, false),
    ...mount(opts.warmupImage ?? DEFAULT_WARMUP_IMAGE, IN.warmup, true),
    TENSORFLOW_IMAGE,
    "python3",
    `${IN.tool}/prepare.py`,
    ...prepareFlags(job.name, { savedModel: IN.model, out: IN.out, warmup: IN.warmup }, opts),
  ];
}

/** prepare.py's exit codes (shared with common/errors.ts) back to error kinds. */
const KIND_BY_EXIT: Record<number, ExitCodeName> = {
  2: "usage",
  9: "notFound",
  12: "missingTool",
  13: "config",
};

/** The OdapiError for a failed prepare run, from its `odapi-error:` line when it printed one. Pure. */
export function prepareFailure(runner: RunnerKind, code: number, stderr: string): OdapiError {
  const line = parseRemoteErrorLine(stderr);
  if (line) return new OdapiError(line.problem, line.remedy, KIND_BY_EXIT[code] ?? "failure");
  const last = stderr.trim().split("\n").pop() ?? "";
  if (runner === "docker" && /permission denied.*docker/i.test(last)) {
    return new OdapiError(
      `this user may not use the Docker engine: ${last}`,
      "add yourself to the docker group (sudo usermod -aG docker $USER, then log in again), or use --runner venv",
      "missingTool",
    );
  }
  if (runner === "docker" && (code === 125 || /docker daemon|Cannot connect/i.test(last))) {
    return new OdapiError(
      `Docker could not run the TensorFlow image: ${last}`,
      "start Docker (or use --runner venv with Python 3 installed)",
      "missingTool",
    );
  }
  return new OdapiError(
    `prepare.py failed (${runner} runner, exit ${code})${last ? `: ${last}` : ""}`,
    "rerun with --verbose to see TensorFlow's output",
    "failure",
  );
}

/** True when `python3` runs here. */
export function hasPython(python = process.env.PYTHON || "python3"): boolean {
  const r = spawnSync(python, ["--version"], { encoding: "utf8" });
  return r.status === 0 && /Python 3\./.test(`${r.stdout}${r.stderr}`);
}

/** Runs argv, streaming stderr lines to `log`; resolves with stdout/stderr and the exit code. */
export function runStreaming(
  argv: string[],
  log: (line: string) => void,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let partial = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
      const lines = (partial + c).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line.trim() && !line.startsWith("odapi-error:")) log(line);
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      reject(
        err.code === "ENOENT"
          ? new OdapiError(
              `\`${argv[0]}\` is not installed`,
              argv[0] === "docker"
                ? "install Docker, or install Python 3 and use --runner venv"
                : "install Python 3 (3.10-3.12) with venv, or use --runner docker",
              "missingTool",
            )
          : err,
      );
    });
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Parses prepare.py's `--json` line. */
export function parsePrepared(stdout: string, runner: RunnerKind): PreparedModel {
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as PreparedModel;
  } catch {
    throw new OdapiError(
      `prepare.py (${runner} runner) printed no result`,
      "rerun with --verbose to see its output",
      "failure",
    );
  }
}

/** Prepares one model on this machine with the venv or docker runner. */
export async function runLocalPrepare(
  kind: "venv" | "docker",
  job: PrepareJob,
  opts: LocalPrepareOptions,
  log: (line: string) => void = () => {},
): Promise<PreparedModel> {
  if (kind === "venv") {
    const venv = await runStreaming(ensureVenvArgv(), log);
    if (venv.code !== 0) {
      const line = parseRemoteErrorLine(
        venv.stderr.replace(/^error: (.*); fix: (.*)$/m, "odapi-error: $1 | fix: $2"),
      );
      throw new OdapiError(
        line?.problem ?? "creating the Python venv failed",
        line?.remedy ?? "run `bash scripts/ensure-venv.sh` to see why",
        "missingTool",
      );
    }
  }
  // Created here, not by `docker -v`, which would make it root-owned.
  mkdirSync(opts.outDir, { recursive: true });
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  const argv =
    kind === "venv"
      ? venvPrepareArgv(job, opts)
      : dockerPrepareArgv(job, opts, uid !== undefined && gid !== undefined ? { uid, gid } : undefined);
  const res = await runStreaming(argv, log);
  if (res.code !== 0) throw prepareFailure(kind, res.code, res.stderr);
  return parsePrepared(res.stdout, kind);
}
