// Deploy step "idle auto-stop": installs (N > 0) or removes (0) the systemd timer that powers the host off after
// N minutes without a model request. The script and units arrive with the upload; this step only (de)activates.
import { renderIdleInstallScript } from "../../serving";
import type { SshSession } from "../ssh/session";
import { lineLogger } from "./lines";

/** `bash -c <install script> idle-stop-install <remoteDir> on|off` (pure; run as root). */
export function idleStopArgv(remoteDir: string, minutes: number): string[] {
  return [
    "bash",
    "-c",
    renderIdleInstallScript(),
    "idle-stop-install",
    remoteDir,
    minutes > 0 ? "on" : "off",
  ];
}

export async function applyIdleStop(
  session: SshSession,
  step: { argv: string[]; minutes: number },
  log: (line: string) => void,
): Promise<void> {
  log(
    step.minutes > 0
      ? `idle auto-stop: power off after ${step.minutes} min without a model request`
      : "idle auto-stop: off",
  );
  await session.run(step.argv, { sudo: true, timeoutMs: 60_000, onOutput: lineLogger(log) });
}
