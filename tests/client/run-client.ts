// Spawns the real entry script (node or zx) and collects its exit code and output.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "../..");
export const SCRIPT = path.join(ROOT, "bootstrap/test-endpoint.mjs");

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runClient(
  args: string[],
  opts: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    viaZx?: boolean;
    onSpawn?: (child: ChildProcess) => void;
  } = {},
): Promise<RunResult> {
  const env = {
    ...process.env,
    NO_COLOR: "1",
    FORCE_COLOR: undefined,
    ODAPI_API_KEY: undefined,
    ...opts.env,
  };
  // `npx zx …` runs node_modules/.bin/zx (how users start it); plain node is the same script without zx.
  const [cmd, argv] = opts.viaZx
    ? [path.join(ROOT, "node_modules/.bin/zx"), [SCRIPT, ...args]]
    : [process.execPath, [SCRIPT, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: opts.cwd ?? ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    opts.onSpawn?.(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => {
      stdout += c;
    });
    child.stderr.on("data", (c) => {
      stderr += c;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * JPEG magic and a valid 16×16 frame header, then garbage: it passes the client's local check (so it is
 * sent) and fails the server's decoder (so the server's 400 message is what the user sees).
 */
export const BROKEN_JPEG = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x10, 0x03]),
  Buffer.alloc(64, 0x42),
]);
