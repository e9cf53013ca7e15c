// Runs a real process the way a user would (the odapi CLI, the test client) and collects its exit code,
// signal and output. Every test that spawns `bin/odapi.cjs` goes through runOdapi.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const ODAPI_BIN = path.join(REPO_ROOT, "bin", "odapi.cjs");

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Called with the whole output of that stream so far and a way to signal the process (e.g. Ctrl-C mid-way). */
export type OnOutput = (soFar: string, kill: (signal: NodeJS.Signals) => void) => void;

export interface RunOptions {
  /** Default: the repository root. */
  cwd?: string;
  /** Merged over process.env; a key set to undefined is left out. */
  env?: NodeJS.ProcessEnv;
  onSpawn?: (child: ChildProcess) => void;
  onStdout?: OnOutput;
  onStderr?: OnOutput;
  /** SIGTERM the process after this many ms (like spawnSync's timeout). */
  timeoutMs?: number;
}

/** Spawns cmd with stdin closed, resolves once it has exited and both output streams are drained. */
export function runProcess(cmd: string, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    opts.onSpawn?.(child);
    const kill = (signal: NodeJS.Signals) => child.kill(signal);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
      opts.onStdout?.(stdout, kill);
    });
    child.stderr.on("data", (d) => {
      stderr += d;
      opts.onStderr?.(stderr, kill);
    });
    const timer = opts.timeoutMs ? setTimeout(() => kill("SIGTERM"), opts.timeoutMs) : undefined;
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** `node bin/odapi.cjs …args`. */
export function runOdapi(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runProcess(process.execPath, [ODAPI_BIN, ...args], opts);
}
