// The parts every rendered host script shares: strict mode and the one-line failure contract.
import { shellQuote } from "../common/shell";

/**
 * Header for a bash script. `fail` prints the contract line `odapi-error: <problem> | fix: <remedy>` on
 * stderr and exits 1; the ERR trap turns any unexpected failing command into that same single line.
 */
export function scriptPrologue(name: string, purpose: string): string {
  return `#!/usr/bin/env bash
# ${name}: ${purpose}
# Rendered by odapi (serving/); edit the renderer, not this file. Runs from any directory.
set -Eeuo pipefail

fail() {
  printf 'odapi-error: %s | fix: %s\\n' "$1" "$2" >&2
  exit 1
}
trap 'fail "${name} failed at line $LINENO" "read the messages above, fix the cause and rerun ${name}"' ERR

say() {
  printf 'odapi: %s\\n' "$*"
}
`;
}

/** `fail "<problem>" "<remedy>"` with both words quoted for bash. */
export function failCall(problem: string, remedy: string): string {
  return `fail ${shellQuote(problem)} ${shellQuote(remedy)}`;
}

/** Shell lines that stop with a clear message when the Docker CLI or engine is unusable. */
export function requireDockerLines(prepareHostPath: string): string {
  return `command -v docker >/dev/null 2>&1 || ${failCall("docker is not installed on this host", `run: sudo bash ${prepareHostPath}`)}
docker info >/dev/null 2>&1 || ${failCall(
    "the Docker engine is not running or this user may not use it",
    "start it (sudo systemctl start docker) and run this script as root",
  )}
`;
}

/** The argv a caller runs (as root) to execute a rendered script on the host. */
export function scriptArgv(remoteDir: string, script: string): string[] {
  return ["bash", `${remoteDir}/${script}`];
}
