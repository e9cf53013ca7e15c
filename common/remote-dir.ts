// The one rule for the directory odapi owns on a host (--remote-dir, odapi:remoteDir, ServingOptions.remoteDir).
// It appears in shell scripts, docker -v mounts (where ',' and ':' are separators) and nginx/text-proto strings.
import { type ExitCodeName, OdapiError } from "./errors";

// Separators in docker -v (`,` `:`), string delimiters in nginx and text protos (quotes, `\`), and control characters.
const UNSAFE = /[,:"'\\]|\p{Cc}/u;

export const REMOTE_DIR_RULE =
  "must be an absolute path, not /, with no '..' and none of , : quotes \\ or control characters";

/** Whether `dir` follows the rule (pure). */
export function isPlainRemoteDir(dir: unknown): dir is string {
  if (typeof dir !== "string" || !dir.startsWith("/") || UNSAFE.test(dir)) return false;
  const clean = dir.replace(/\/+$/, "");
  return clean !== "" && !clean.split("/").includes("..");
}

/**
 * The dir without trailing slashes, or an error naming where the value came from (`what`: "--remote-dir",
 * "remoteDir") with the fix. `kind` sets the exit code: a flag is a usage error, a config value a config error.
 */
export function checkRemoteDir(dir: string, what = "--remote-dir", kind: ExitCodeName = "usage"): string {
  if (!isPlainRemoteDir(dir)) {
    throw new OdapiError(
      `${what} ${JSON.stringify(dir)} ${REMOTE_DIR_RULE}`,
      `pass a dedicated directory, e.g. ${what} /opt/odapi or /home/ubuntu/odapi`,
      kind,
    );
  }
  return dir.replace(/\/+$/, "");
}
