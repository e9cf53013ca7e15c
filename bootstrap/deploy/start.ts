// Deploy step "start": start.sh as root (replaces the containers; an unchanged one starts identical ones).
import type { SshSession } from "../ssh/session";
import { lineLogger } from "./lines";

export async function startServing(
  session: SshSession,
  step: { argv: string[]; timeoutMs: number },
  log: (line: string) => void,
): Promise<void> {
  log(`starting TF Serving: ${step.argv.join(" ")}`);
  await session.run(step.argv, { sudo: true, timeoutMs: step.timeoutMs, onOutput: lineLogger(log) });
}
