// A real S3-compatible server for tests and benchmarks: moto in server mode on 127.0.0.1, from .venv-moto.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import path from "node:path";
import { freePort } from "./sshd";

const ROOT = path.resolve(__dirname, "../..");
export const MOTO_VENV_BIN = path.join(ROOT, ".venv-moto", "bin");
/** The pinned AWS CLI (PyPI awscli) the sync agent runs in tests instead of the amazon/aws-cli image. */
export const AWS_CLI = path.join(MOTO_VENV_BIN, "aws");

export interface MotoServer {
  endpoint: string;
  port: number;
  /** Environment for the SDK and the AWS CLI: dummy credentials, a region, the endpoint. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Creates .venv-moto from its lock when missing (first run downloads ~30 MB from PyPI). */
export function ensureMotoVenv(): void {
  execFileSync("bash", [path.join(ROOT, "scripts", "ensure-moto-venv.sh")], { stdio: "inherit" });
}

async function waitUntilUp(endpoint: string, child: ChildProcess, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}`);
    try {
      await fetch(`${endpoint}/moto-api/`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`moto_server did not answer at ${endpoint} within the deadline`);
}

/**
 * Starts moto_server on a free loopback port; `stop()` ends it (and every bucket it held). With `authAfter` N,
 * moto checks credentials after N free requests (INITIAL_NO_AUTH_ACTION_COUNT): keys it never issued are refused.
 */
export async function startMoto(opts: { port?: number; authAfter?: number } = {}): Promise<MotoServer> {
  ensureMotoVenv();
  const port = opts.port ?? (await freePort());
  const child = spawn(
    path.join(MOTO_VENV_BIN, "python"),
    ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        ...(opts.authAfter !== undefined ? { INITIAL_NO_AUTH_ACTION_COUNT: String(opts.authAfter) } : {}),
      },
    },
  );
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(endpoint, child, Date.now() + 30_000);
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
  return {
    endpoint,
    port,
    env: {
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
      AWS_REGION: "us-east-1",
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_ENDPOINT_URL: endpoint,
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
