// Deploy step "ensure the remote dir": --remote-dir, models/ and config/ exist and the SSH user can write them.
import { OdapiError } from "../../common/errors";
import type { SshSession } from "../ssh/session";

const ENSURE_DIR_SCRIPT =
  'for d in "$@"; do mkdir -p -- "$d" || exit 1; test -w "$d" || { echo "$d is not writable (owner or read-only filesystem)" >&2; exit 1; }; done';

/**
 * Create the dir and its models/ and config/ as the SSH user, checking they are writable, in one round trip;
 * when refused, `install -d -o <user>` as root (also fixes dirs left owned by root), then the same check again.
 * They exist before prepare-host.sh runs (as root, alongside the upload), so it never creates them root-owned.
 */
export function ensureDirArgv(dir: string, user: string): { argv: string[]; privilegedArgv: string[] } {
  const sub = [dir, `${dir}/models`, `${dir}/config`];
  return {
    argv: ["sh", "-c", ENSURE_DIR_SCRIPT, "sh", ...sub],
    privilegedArgv: ["install", "-d", "-o", user, "-m", "0755", ...sub],
  };
}

/** The error when --remote-dir cannot be made writable for the SSH user (pure). */
export function remoteDirError(host: string, user: string, remoteDir: string, stderr: string): OdapiError {
  const why = stderr.trim().split("\n").pop() || "not writable";
  return new OdapiError(
    `cannot create or write --remote-dir ${remoteDir} on ${host} as ${user}: ${why}`,
    `choose a dir ${user} can write (e.g. under ~${user}) on a writable filesystem; as a non-root user, passwordless sudo lets deploy create it`,
    "remoteIo",
  );
}

/** Creates the remote dir (and models/, config/) for the SSH user, through sudo when needed; deploy and
 * `odapi prepare --runner remote` both start here, so either can be the first command on a fresh host. */
export async function ensureRemoteDir(
  session: SshSession,
  dir: { remoteDir: string; ensureDir: { argv: string[]; privilegedArgv: string[] } },
): Promise<void> {
  if ((await session.exec(dir.ensureDir.argv)).code === 0) return;
  const { host, user } = session.target;
  // Only root can hand the dir to the user; a sudo failure (no sudo, password needed) explains itself.
  if (user !== "root") await session.run(dir.ensureDir.privilegedArgv, { sudo: true });
  const again = await session.exec(dir.ensureDir.argv);
  if (again.code !== 0) throw remoteDirError(host, user, dir.remoteDir, again.stderr);
}
