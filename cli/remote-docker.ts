// Docker on the host, run through sudo by `status`, `logs` and `stop`: one reading of its failures, each named
// with its real cause (no Docker, no engine, no sudo) and the exit code of that cause.
import { remoteCommandError } from "../bootstrap/ssh/errors";
import type { ExecResult, SshTarget } from "../bootstrap/ssh/target";
import { ExitCode, OdapiError, parseRemoteErrorLine } from "../common/errors";

const NO_ENGINE = /Cannot connect to the Docker daemon|docker\.sock|Docker engine is not running/i;

/** The error for a docker command (or a script running docker) that failed on the host; undefined when it worked (pure). */
export function dockerFailure(
  argv: string[],
  res: ExecResult,
  target: Pick<SshTarget, "user" | "host" | "port">,
): OdapiError | undefined {
  if (res.code === 0) return undefined;
  const err = remoteCommandError(argv, res, target);
  // A script that is not there (bash's 127 too) means nothing is deployed in that dir, not that Docker is missing.
  if (err.exitCode === ExitCode.usage) return err;
  // 127 from the shell; through sudo a missing command is sudo's own message.
  if (res.code === 127 || /^sudo: .*command not found/m.test(res.stderr)) {
    return new OdapiError(
      `docker is not installed on ${target.host}`,
      "deploy first: odapi deploy … (prepare-host.sh installs Docker)",
      "missingTool",
    );
  }
  // The generic reading knows sudo (auth) and our scripts' own odapi-error lines; an engine that is down is a missing tool.
  if (!NO_ENGINE.test(res.stderr) || err.exitCode === ExitCode.auth) return err;
  return parseRemoteErrorLine(res.stderr)
    ? new OdapiError(err.message, err.remedy, "missingTool")
    : new OdapiError(
        `the Docker engine is not running on ${target.host}`,
        "start it: sudo systemctl start docker (odapi deploy installs and starts it)",
        "missingTool",
      );
}

/**
 * Streams a remote script's output line by line without its `odapi-error:` lines: the top-level handler prints
 * that error once, as `error:` and `fix:`.
 */
export function withoutErrorLines(write: (s: string) => void): { push(chunk: string): void; end(): void } {
  let partial = "";
  const emit = (lines: string[]) => {
    const kept = lines.filter((l) => !l.startsWith("odapi-error:"));
    if (kept.length) write(`${kept.join("\n")}\n`);
  };
  return {
    push: (chunk) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      emit(lines);
    },
    end: () => {
      if (partial) emit([partial]);
      partial = "";
    },
  };
}
