// Turning SSH and remote-command failures into one clear OdapiError with a remedy (pure).
import { OdapiError, parseRemoteErrorLine } from "../../common/errors";
import type { ExecResult, SshTarget } from "./target";

const RETRYABLE_CODES = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "ECONNRESET",
  "EPIPE",
  "EAI_AGAIN",
  "ECONNABORTED",
]);

function where(t: Pick<SshTarget, "user" | "host" | "port">): string {
  return `${t.user}@${t.host}:${t.port}`;
}

/** Classifies a failed connection attempt: retry it (server not up yet) or fail now (wrong key, wrong host key…). */
export function connectErrorOf(
  err: unknown,
  target: Pick<SshTarget, "user" | "host" | "port">,
  readyTimeoutMs: number,
): { retry: boolean; error: OdapiError } {
  if (err instanceof OdapiError) return { retry: false, error: err };
  const e = err as NodeJS.ErrnoException & { level?: string };
  const msg = e?.message ?? String(err);
  const addr = `${target.host}:${target.port}`;
  if (e?.level === "client-authentication") {
    return {
      retry: false,
      error: new OdapiError(
        `${where(target)} refused the SSH key (publickey authentication failed)`,
        `check --user (ubuntu on Ubuntu images, ec2-user on Amazon Linux, root on many VMs) and that the key's public half is in ~${target.user}/.ssh/authorized_keys on the server (on EC2: the instance's key pair)`,
        "auth",
      ),
    };
  }
  if (e?.level === "client-timeout") {
    return {
      retry: true,
      error: new OdapiError(
        `no SSH handshake from ${addr} within ${Math.round(readyTimeoutMs / 1000)} s (${msg}): something accepts TCP there but does not answer as an SSH server`,
        "check --host and --port (is it really sshd?), and the firewall / security group; a fresh server may need a minute",
        "timeout",
      ),
    };
  }
  if (e?.code === "ENOTFOUND") {
    return {
      retry: false,
      error: new OdapiError(
        `the host name ${target.host} does not resolve`,
        "check --host (an IP address or DNS name)",
        "unreachable",
      ),
    };
  }
  if (
    (e?.code && RETRYABLE_CODES.has(e.code)) ||
    e?.level === "client-socket" ||
    /before handshake/i.test(msg)
  ) {
    const what =
      e.code === "ECONNREFUSED"
        ? "refused the connection (nothing listens on that port yet)"
        : e.code === "ETIMEDOUT"
          ? "did not answer (timed out)"
          : `could not be reached (${e.code ?? msg})`;
    return {
      retry: true,
      error: new OdapiError(
        `${addr} ${what}`,
        "check --host and --port, that the server is running and that its firewall / security group admits SSH from your address",
        "unreachable",
      ),
    };
  }
  return {
    retry: false,
    error: new OdapiError(
      `SSH connection to ${addr} failed: ${msg}`,
      "check that the server runs a current OpenSSH; rerun with --verbose for details",
      "unreachable",
      { cause: err },
    ),
  };
}

function lastLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? "";
}

/** The error for a remote command that exited non-zero, recognising the common causes. */
export function remoteCommandError(
  argv: string[],
  result: ExecResult,
  target: Pick<SshTarget, "user" | "host" | "port">,
): OdapiError {
  const scripted = parseRemoteErrorLine(result.stderr);
  if (scripted) return new OdapiError(scripted.problem, scripted.remedy, "failure");
  const cmd = argv.join(" ").slice(0, 100);
  const text = `${result.stderr}\n${result.stdout}`;
  if (
    /sudo: (a password is required|a terminal is required|sorry, you must have a tty|.*may not run sudo)|is not in the sudoers file/i.test(
      text,
    )
  ) {
    return new OdapiError(
      `${target.user} cannot run sudo without a password on ${target.host} (needed for \`${cmd}\`)`,
      `connect as root, or allow passwordless sudo: echo '${target.user} ALL=(ALL) NOPASSWD:ALL' | sudo tee /etc/sudoers.d/odapi (cloud images' default users already have it)`,
      "auth",
    );
  }
  if (/No space left on device|Disk quota exceeded/i.test(text)) {
    return diskFullError(target.host);
  }
  if (/Permission denied|Operation not permitted|Read-only file system/i.test(text)) {
    return new OdapiError(
      `permission denied on ${target.host} running \`${cmd}\`: ${lastLine(result.stderr)}`,
      `choose a --remote-dir that ${target.user} can write (e.g. under its home), or connect as a user with sudo rights`,
      "remoteIo",
    );
  }
  // `bash <remoteDir>/<script>.sh` where no deploy put the script: the dir is wrong or nothing is deployed there.
  const noScript = /^bash: (\/\S+\.sh): No such file or directory$/m.exec(result.stderr);
  if (result.code === 127 && noScript) {
    return new OdapiError(
      `${noScript[1]} does not exist on ${target.host}: nothing is deployed in that --remote-dir`,
      "pass the --remote-dir you deployed to, or deploy first (odapi deploy)",
      "usage",
    );
  }
  if (result.code === 127) {
    // The missing program may be sudo (prefixed by exec), not argv[0]: take the name from the shell's message.
    const missing = /(?:^|\s)([^\s:]+): (?:command )?not found/m.exec(result.stderr)?.[1] ?? argv[0];
    return new OdapiError(
      `\`${missing}\` is not installed on ${target.host}: ${lastLine(result.stderr)}`,
      `install ${missing} on the server (a standard Linux with bash, coreutils and sudo is required)`,
      "missingTool",
    );
  }
  return new OdapiError(
    `\`${cmd}\` failed on ${target.host} (exit ${result.code}): ${lastLine(result.stderr) || lastLine(result.stdout) || "no output"}`,
    "see the message above; rerun with --verbose for the full output",
    "failure",
  );
}

export function diskFullError(host: string, detail = ""): OdapiError {
  return new OdapiError(
    `the disk on ${host} is full${detail ? ` (${detail})` : ""}`,
    "free space on the server (docker system prune -af; old model versions) or grow its volume (Pulumi config `volumeSizeGb`), then rerun: finished files are skipped",
    "remoteIo",
  );
}
