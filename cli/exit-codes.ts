// The exit-code list every command's --help ends with, taken from common/errors.ts so it cannot drift.
import { ExitCode, type ExitCodeName } from "../common/errors";

/** What each exit code means to a user, worded for any command; a command may word its own cases. */
const MEANINGS: Record<Exclude<ExitCodeName, "ok">, string> = {
  failure: "anything else",
  usage: "bad flags",
  unreachable: "unreachable",
  auth: "authentication refused (SSH key, API key, sudo)",
  hostKey: "host key mismatch",
  locked: "locked by another deploy",
  remoteIo: "remote I/O (disk full, permissions)",
  timeout: "timeout",
  notFound: "not found",
  badRequest: "request rejected",
  notAnImage: "not an image",
  missingTool: "a needed tool is missing or not running",
  config: "a local file or setting cannot be used (unreadable file, bad key, bad stack)",
  serverError: "server error",
  interrupted: "interrupted (Ctrl-C)",
};

/** Every command can fail with these: bad flags, an unreadable file, Ctrl-C, an unexpected error. */
const ALWAYS: ExitCodeName[] = ["usage", "config", "interrupted", "failure"];

/** `Exit codes: 0 ok, 2 bad flags, …, 130 interrupted (Ctrl-C), 1 anything else.` for these kinds (pure). */
export function exitCodeHelp(
  kinds: ExitCodeName[],
  wording: Partial<Record<ExitCodeName, string>> = {},
): string {
  const all = [...new Set([...kinds, ...ALWAYS])].filter((k) => k !== "ok" && k !== "failure");
  all.sort((a, b) => ExitCode[a] - ExitCode[b]);
  const parts = [...all, "failure" as const].map(
    (k) => `${ExitCode[k]} ${wording[k] ?? MEANINGS[k as Exclude<ExitCodeName, "ok">]}`,
  );
  return `Exit codes: 0 ok, ${parts.join(", ")}.`;
}
