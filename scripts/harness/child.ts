// Stopping a process the harness started (nginx, HAProxy, the benchmark upstream): SIGTERM, wait for its exit, remove
// its dir (if it has one).
import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";

export function stopperOf(child: ChildProcess, dir?: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  };
}
