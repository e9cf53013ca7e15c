// The project's one error type: every failure a user can act on carries what went wrong and how to fix it.

/** Exit codes, one per kind of failure, so scripts can tell them apart. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  unreachable: 3,
  auth: 4,
  hostKey: 5,
  locked: 6,
  remoteIo: 7,
  timeout: 8,
  notFound: 9,
  badRequest: 10,
  notAnImage: 11,
  missingTool: 12,
  config: 13,
  serverError: 14,
  /** The shell's convention for a run stopped by SIGINT (128 + 2). */
  interrupted: 130,
} as const;
export type ExitCodeName = keyof typeof ExitCode;

export class OdapiError extends Error {
  readonly remedy: string;
  readonly exitCode: number;

  constructor(
    message: string,
    remedy: string,
    kind: ExitCodeName = "failure",
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "OdapiError";
    this.remedy = remedy;
    this.exitCode = ExitCode[kind];
  }
}

export function isOdapiError(err: unknown): err is OdapiError {
  return err instanceof OdapiError;
}

/** What a denied file-system call was doing, for the message (mkdir denied is a write, scandir a listing). */
const DENIED_VERB: Record<string, string> = {
  mkdir: "cannot create",
  rename: "cannot write",
  unlink: "cannot remove",
  rmdir: "cannot remove",
  scandir: "cannot list",
  opendir: "cannot list",
};

/** Node's error for a local path this user may not access (EACCES, EPERM), as an OdapiError naming it (pure). */
export function unreadableFileError(err: unknown): OdapiError | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (!(e instanceof Error) || !e.path || (e.code !== "EACCES" && e.code !== "EPERM")) return undefined;
  const verb = DENIED_VERB[e.syscall ?? ""] ?? "cannot read";
  return new OdapiError(
    `${verb} ${e.path}: permission denied (${e.code})`,
    `check its permissions and those of its directories (ls -ld ${e.path}): give this user access (chmod, as the owner) or run odapi as a user that has it`,
    "config",
    { cause: err },
  );
}

/** Any thrown value as the error a user sees: OdapiErrors as they are, known system errors explained. */
export function toUserError(err: unknown): unknown {
  return isOdapiError(err) ? err : (unreadableFileError(err) ?? err);
}

/** The one JSON object `--json` prints on stdout when a command fails. */
export function failureJson(err: unknown): {
  ok: false;
  error: { message: string; remedy: string; exitCode: number };
} {
  const error = isOdapiError(err)
    ? { message: err.message, remedy: err.remedy, exitCode: err.exitCode }
    : { message: err instanceof Error ? err.message : String(err), remedy: "", exitCode: exitCodeOf(err) };
  return { ok: false, error };
}

/** One-line message for a user: the problem, then the fix. */
export function formatError(err: unknown, verbose = false): string {
  if (isOdapiError(err)) {
    const text = `error: ${err.message}\n  fix: ${err.remedy}`;
    return verbose && err.stack ? `${text}\n${err.stack}` : text;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return verbose && e.stack ? `error: ${e.stack}` : `error: ${e.message} (rerun with --verbose for details)`;
}

/** The exit code for any thrown value. */
export function exitCodeOf(err: unknown): number {
  return isOdapiError(err) ? err.exitCode : ExitCode.failure;
}

/** The `odapi-error: <problem> | fix: <remedy>` line remote scripts print on failure, if any (the last one wins). */
export function parseRemoteErrorLine(stderr: string): { problem: string; remedy: string } | undefined {
  const lines = stderr.split("\n").filter((l) => l.startsWith("odapi-error:"));
  const last = lines[lines.length - 1];
  if (!last) return undefined;
  const body = last.slice("odapi-error:".length).trim();
  const cut = body.indexOf(" | fix: ");
  return cut < 0
    ? { problem: body, remedy: "see the output above" }
    : { problem: body.slice(0, cut).trim(), remedy: body.slice(cut + " | fix: ".length).trim() };
}
