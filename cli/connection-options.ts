// Connection options shared by `odapi deploy|status|logs|stop`, and their translation into an SshTarget.
import type { Argv } from "yargs";
import { KEY_ENV, loadPrivateKey } from "../bootstrap/ssh/keys";
import { type ConnectOptions, connect, type SshSession, type SshTarget } from "../bootstrap/ssh/session";
import { type ExitCodeName, OdapiError } from "../common/errors";

export interface ConnectionArgs {
  host: string;
  port: number;
  user: string;
  key?: string;
  "host-key"?: string;
  "known-hosts"?: string;
  "connect-timeout": number;
  "remote-dir": string;
  json: boolean;
}

export const CONNECTION_GROUP = "Connection:";

/** How any command over SSH can fail before its own work starts. */
export const SSH_EXIT_CODES: ExitCodeName[] = ["unreachable", "auth", "hostKey", "timeout"];

/**
 * Adds --host --port --user --key --host-key --known-hosts --connect-timeout --remote-dir --json. `demand: false`
 * for a command with another way to name its target (status --stack), which then checks them itself.
 */
export function withConnectionOptions<T>(
  y: Argv<T>,
  opts: { demand?: boolean } = {},
): Argv<T & ConnectionArgs> {
  const demandOption = opts.demand ?? true;
  return y
    .option("host", {
      type: "string",
      demandOption,
      group: CONNECTION_GROUP,
      describe: "Server address (IP or DNS name)",
    })
    .option("port", { type: "number", default: 22, group: CONNECTION_GROUP, describe: "SSH port" })
    .option("user", {
      type: "string",
      demandOption,
      group: CONNECTION_GROUP,
      describe: "SSH user (ubuntu on Ubuntu images, ec2-user on Amazon Linux); sudo is used when not root",
    })
    .option("key", {
      type: "string",
      group: CONNECTION_GROUP,
      describe: `Private key file (mode 0600 or 0400); or put the key's text in env ${KEY_ENV}`,
    })
    .option("host-key", {
      type: "string",
      group: CONNECTION_GROUP,
      describe:
        'The server\'s public host key, "ssh-ed25519 AAAA…": anything else aborts before authenticating. Without it the first key seen is trusted and recorded (--known-hosts)',
    })
    .option("known-hosts", {
      type: "string",
      group: CONNECTION_GROUP,
      describe:
        "Trust-on-first-use file (OpenSSH format), used when --host-key is not given. Default: $XDG_CONFIG_HOME/odapi/known_hosts (~/.config/odapi/known_hosts), per user; keys in ./.odapi/known_hosts are still honoured",
    })
    .option("connect-timeout", {
      type: "number",
      default: 120,
      group: CONNECTION_GROUP,
      describe:
        "Seconds to keep retrying while the server refuses or does not answer (fresh instances need ~1-2 min)",
    })
    .option("remote-dir", {
      type: "string",
      demandOption,
      group: CONNECTION_GROUP,
      describe: "Absolute directory on the server holding models/, config/ and the scripts",
    })
    .option("json", {
      type: "boolean",
      default: false,
      describe: "Print one JSON object on stdout (logs on stderr)",
    }) as Argv<T & ConnectionArgs>;
}

/** The SSH target from parsed flags and the environment (reads the key file; refuses unsafe modes). */
export function targetFromArgs(args: ConnectionArgs, env: NodeJS.ProcessEnv = process.env): SshTarget {
  if (!Number.isInteger(args.port) || args.port < 1 || args.port > 65535) {
    throw new OdapiError(
      `--port ${args.port} is not a TCP port`,
      "pass a number from 1 to 65535 (SSH is usually 22)",
      "usage",
    );
  }
  if (!args.host.trim())
    throw new OdapiError("--host is empty", "pass the server's IP address or DNS name", "usage");
  return {
    host: args.host.trim(),
    port: args.port,
    user: args.user,
    privateKey: loadPrivateKey(args.key, env),
    ...(args["host-key"] ? { hostKey: args["host-key"] } : {}),
    ...(args["known-hosts"] ? { knownHostsFile: args["known-hosts"] } : {}),
  };
}

export function connectOptionsFromArgs(args: ConnectionArgs, log: (line: string) => void): ConnectOptions {
  if (!(args["connect-timeout"] >= 0)) {
    throw new OdapiError(
      `--connect-timeout ${args["connect-timeout"]} is not a number of seconds`,
      "pass e.g. 120",
      "usage",
    );
  }
  return { deadlineMs: args["connect-timeout"] * 1000, readyTimeoutMs: 20_000, log };
}

/** Human progress lines go to stderr so that `--json` keeps stdout to exactly one object. */
export function stderrLogger(): (line: string) => void {
  return (line) => process.stderr.write(`${line}\n`);
}

/** Connects with the flags' options, runs `fn`, and always closes the connection. */
export async function withSession<R>(
  args: ConnectionArgs,
  fn: (session: SshSession) => Promise<R>,
): Promise<R> {
  const log = stderrLogger();
  const session = await connect(targetFromArgs(args), connectOptionsFromArgs(args, log));
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}
