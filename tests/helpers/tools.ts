// What this machine has, for tests that depend on a tool (and say so when they are skipped).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, symlinkSync } from "node:fs";
import path from "node:path";

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

/**
 * A PATH holding the commands of /usr/bin and /bin except `omit` (as links in `dir`), so a test can play a host
 * without, say, docker on a machine that has it (/bin is /usr/bin itself on merged-/usr systems).
 */
export function systemPathWithout(dir: string, omit: readonly string[]): string {
  mkdirSync(dir, { recursive: true });
  for (const sysDir of ["/usr/bin", "/bin"]) {
    for (const name of existsSync(sysDir) ? readdirSync(sysDir) : []) {
      const link = path.join(dir, name);
      if (!omit.includes(name) && !existsSync(link)) symlinkSync(path.join(sysDir, name), link);
    }
  }
  return dir;
}
