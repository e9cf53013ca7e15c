// A recording `docker` for tests where no Docker engine can run. On the sshd session's PATH it answers the calls
// prepare-host.sh, start.sh, status and logs make like the CLI does, and appends each call's argv to
// $ODAPI_TEST_DOCKER_CALLS. `container inspect` and `network inspect` say "absent", so start.sh creates them;
// while <calls file>.fail-run exists, `docker run` fails like a taken port. A test adds its own `case` arms
// (matched before these) for calls it answers differently.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

const RECORDING_DOCKER = `#!/usr/bin/env bash
printf '%s\\n' "$*" >>"$ODAPI_TEST_DOCKER_CALLS"
# --follow keeps running like the real one (until the SSH channel goes away).
[[ "$*" == "logs --tail 1 --follow odapi-serving" ]] && { echo "I following"; exec /bin/sleep 600; }
case "$1 \${2:-}" in
  "--version "*) echo "Docker version 26.1.5, build test" ;;
  "info "*) exit 0 ;;
  "image inspect") exit 0 ;;
  "container inspect") exit 1 ;;
  "network inspect") exit 1 ;;
  "network create") echo net ;;
  "run "*) [[ -e $ODAPI_TEST_DOCKER_CALLS.fail-run ]] && { echo "docker: Error response from daemon: port is already allocated." >&2; exit 125; }; echo 0123abcd ;;
  "inspect "*) echo "running 0" ;;
  "ps "*) echo '{"Names":"odapi-serving","Image":"tensorflow/serving:2.20.0","State":"running","Status":"Up 2 minutes"}' ;;
  "logs "*) printf 'I tensorflow_serving/model_servers/server.cc:120] Running gRPC ModelServer at 0.0.0.0:8500 ...\nI line two\n' ;;
  *) echo "unexpected docker call: $*" >&2; exit 2 ;;
esac
`;

export interface DockerDouble {
  /** Holds `docker` and a no-op `sleep` (start.sh's check_running waits 3 s after docker run). */
  bin: string;
  /** Each docker call's argv, one line per call. */
  callsFile: string;
  /** sshd_config lines that put bin first on the session's PATH and name the calls file. */
  sshdConfig: string[];
}

const CASE = `case "$1 \${2:-}" in\n`;

/** Writes dir/bin/docker (with extraCases, bash `case` arms on "$1 ${2:-}", first) and dir/bin/sleep. */
export function writeDockerDouble(dir: string, opts: { extraCases?: string } = {}): DockerDouble {
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  if (!RECORDING_DOCKER.includes(CASE)) throw new Error("docker double: no case line to add arms to");
  const script = RECORDING_DOCKER.replace(CASE, `${CASE}${opts.extraCases ?? ""}`);
  writeFileSync(path.join(bin, "docker"), script, { mode: 0o755 });
  writeFileSync(path.join(bin, "sleep"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  const callsFile = path.join(dir, "docker-calls.log");
  return {
    bin,
    callsFile,
    sshdConfig: [`SetEnv PATH=${bin}:/usr/local/bin:/usr/bin:/bin ODAPI_TEST_DOCKER_CALLS=${callsFile}`],
  };
}
