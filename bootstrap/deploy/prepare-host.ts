// Deploy step "prepare the host": prepare-host.sh as root (Docker, NVIDIA checks, image pull), beside the upload.
import { type RenderedFile, SCRIPTS } from "../../serving";
import type { ExecResult, SshSession } from "../ssh/session";
import { lineLogger } from "./lines";

/**
 * prepare-host.sh runs from its rendered text (`bash -c TEXT prepare-host.sh`), so it can start before the upload
 * has placed the file: Docker installs and the image pulls while the models upload. Same script, same checks.
 */
export function prepareHostArgv(files: RenderedFile[]): string[] {
  const script = files.find((f) => f.path === SCRIPTS.prepareHost);
  if (!script) throw new Error("renderServingFiles returned no prepare-host.sh");
  return ["bash", "-c", script.content, SCRIPTS.prepareHost];
}

/** Starts prepare-host.sh on its own channel; the caller awaits it after the upload. */
export function startPrepareHost(
  session: SshSession,
  step: { argv: string[]; timeoutMs: number },
  log: (line: string) => void,
): Promise<ExecResult> {
  return session.run(step.argv, {
    sudo: true,
    timeoutMs: step.timeoutMs,
    onOutput: lineLogger((l) => log(`prepare-host: ${l}`)),
  });
}
