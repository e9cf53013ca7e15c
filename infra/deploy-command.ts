// The commands Pulumi runs (pure): argv arrays for the odapi CLI, joined into the one shell line that
// @pulumi/command executes. Secrets never appear here: they travel in the environment (ODAPI_SSH_KEY, ODAPI_API_KEY,
// ODAPI_TLS_KEY).
import { shellJoin } from "../common/shell";

/** Run from the project root (the command's `dir`), so the line does not depend on where the checkout lives. */
export const ODAPI_ENTRY = "bin/odapi.cjs";

export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  /** "ssh-ed25519 AAAA…": verify the host against it (no trust on first use). */
  hostKey?: string;
}

/** What the stack asks `odapi deploy` to do (the flags of its command line); the engine's own plan is bootstrap's DeployPlan. */
export interface DeployRequest {
  remoteDir: string;
  /** Catalog models prepared on the host. */
  catalog: string[];
  /** Absolute local dir of prepared models to upload. */
  modelsDir?: string;
  version: number;
  gpu: boolean;
  /** Remove versions of the uploaded models that `modelsDir` no longer has (`--prune`). */
  prune?: boolean;
  /** `--idle-stop-minutes N`: install (N > 0) or remove (0) the idle auto-stop; undefined leaves the host's as is. */
  idleStopMinutes?: number;
}

function connectionArgs(t: SshEndpoint): string[] {
  const args = ["--host", t.host, "--port", String(t.port), "--user", t.user];
  if (t.hostKey) args.push("--host-key", t.hostKey.trim().split(" ").slice(0, 2).join(" "));
  return args;
}

/** `odapi deploy …`: upload/prepare, start, and return only once every model answers (--json for the log). */
export function deployArgv(t: SshEndpoint, plan: DeployRequest): string[] {
  const argv = ["node", ODAPI_ENTRY, "deploy", ...connectionArgs(t), "--remote-dir", plan.remoteDir];
  argv.push("--version", String(plan.version));
  for (const name of plan.catalog) argv.push("--catalog", name);
  if (plan.modelsDir) argv.push("--models", plan.modelsDir);
  if (plan.idleStopMinutes !== undefined) argv.push("--idle-stop-minutes", String(plan.idleStopMinutes));
  if (plan.gpu) argv.push("--gpu");
  if (plan.prune) argv.push("--prune");
  argv.push("--json");
  return argv;
}

/** `odapi stop …`: stops the containers (idempotent). */
export function stopArgv(t: SshEndpoint, remoteDir: string): string[] {
  return ["node", ODAPI_ENTRY, "stop", ...connectionArgs(t), "--remote-dir", remoteDir];
}

export function commandLine(argv: string[]): string {
  return shellJoin(argv);
}

/**
 * The delete step. On an EC2 instance that is terminated right after, a failed stop must not block `pulumi
 * destroy`, so it only warns; on your own host a failed stop is an error you should see.
 */
export function stopCommandLine(argv: string[], opts: { tolerateFailure: boolean }): string {
  const line = shellJoin(argv);
  if (!opts.tolerateFailure) return line;
  return `${line} || echo 'odapi: could not stop the containers; the instance is terminated next anyway' >&2`;
}

/**
 * Runs over SSH once the instance answers: waits for cloud-init (the host key, users, packages) to finish.
 * Exit 2 means "done with recoverable errors" on newer cloud-init; hosts without cloud-init pass at once.
 */
export const SSH_WAIT_SCRIPT =
  "if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null || [ $? -eq 2 ]; fi; echo odapi-ssh-ready";
