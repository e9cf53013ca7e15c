// Spawns the real entry script (node or zx) and collects its exit code and output.
import path from "node:path";
import { REPO_ROOT, type RunOptions, type RunResult, runProcess } from "../helpers/run";

export const ROOT = REPO_ROOT;
export const SCRIPT = path.join(ROOT, "bootstrap/test-endpoint.mjs");

export function runClient(
  args: string[],
  opts: Pick<RunOptions, "cwd" | "env" | "onSpawn"> & { viaZx?: boolean } = {},
): Promise<RunResult> {
  const env = { NO_COLOR: "1", FORCE_COLOR: undefined, ODAPI_API_KEY: undefined, ...opts.env };
  // `npx zx …` runs node_modules/.bin/zx (how users start it); plain node is the same script without zx.
  const [cmd, argv] = opts.viaZx
    ? [path.join(ROOT, "node_modules/.bin/zx"), [SCRIPT, ...args]]
    : [process.execPath, [SCRIPT, ...args]];
  return runProcess(cmd, argv, { cwd: opts.cwd, env, onSpawn: opts.onSpawn });
}

/**
 * JPEG magic and a valid 16×16 frame header, then garbage: it passes the client's local check (so it is
 * sent) and fails the server's decoder (so the server's 400 message is what the user sees).
 */
export const BROKEN_JPEG = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x10, 0x03]),
  Buffer.alloc(64, 0x42),
]);
