// What this machine has, for tests that depend on a tool (and say so when they are skipped).
import { execFileSync, spawnSync } from "node:child_process";

/** True when `command -v cmd` finds it on PATH. */
export function hasCommand(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** True when `docker info` succeeds: a client with a running engine behind it. */
export function dockerEngineWorks(): boolean {
  return spawnSync("docker", ["info"], { stdio: "ignore" }).status === 0;
}
