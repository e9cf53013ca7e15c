// `odapi logs`: the serving (or gateway) container's log, optionally followed until Ctrl-C.
import type { CommandModule } from "yargs";
import { OdapiError } from "../common/errors";
import { CONTAINERS } from "../serving";
import {
  type ConnectionArgs,
  SSH_EXIT_CODES,
  withConnectionOptions,
  withSession,
} from "./connection-options";
import { exitCodeHelp } from "./exit-codes";
import { onFirstInterrupt } from "./interrupt";
import { dockerFailure } from "./remote-docker";

interface LogsArgs extends ConnectionArgs {
  follow: boolean;
  lines: number;
  container: "serving" | "gateway";
  timestamps: boolean;
}

/** `docker logs` argv for one of our containers (pure). */
export function logsArgv(opts: {
  container: "serving" | "gateway";
  lines: number;
  follow: boolean;
  timestamps: boolean;
}): string[] {
  if (!Number.isInteger(opts.lines) || opts.lines < 0) {
    throw new OdapiError(
      `--lines ${opts.lines} is not a line count`,
      "pass a whole number, e.g. --lines 200 (0 = all)",
      "usage",
    );
  }
  return [
    "docker",
    "logs",
    ...(opts.lines > 0 ? ["--tail", String(opts.lines)] : []),
    ...(opts.follow ? ["--follow"] : []),
    ...(opts.timestamps ? ["--timestamps"] : []),
    CONTAINERS[opts.container],
  ];
}

export const logsCommand: CommandModule<object, LogsArgs> = {
  command: "logs",
  builder: (y) =>
    withConnectionOptions(y)
      .option("follow", {
        alias: "f",
        type: "boolean",
        default: false,
        describe: "Keep streaming new lines until Ctrl-C",
      })
      .option("lines", {
        alias: "n",
        type: "number",
        default: 200,
        describe: "Lines from the end to show (0 = all)",
      })
      .option("container", {
        choices: ["serving", "gateway"] as const,
        default: "serving" as const,
        describe: "Which container: TF Serving or the API-key gateway",
      })
      .option("timestamps", { type: "boolean", default: false, describe: "Prefix each line with its time" })
      .example(
        "$0 logs --host 203.0.113.7 --user ubuntu --key k.pem --remote-dir /opt/odapi -f",
        "Follow the log",
      )
      .epilogue(
        exitCodeHelp([...SSH_EXIT_CODES, "notFound", "missingTool"], { notFound: "no such container" }),
      ) as never,
  handler: async (args) => {
    const argv = logsArgv(args);
    await withSession(args, async (session) => {
      // Ctrl-C ends a --follow by closing the connection, which ends `docker logs` on the host.
      const release = onFirstInterrupt(() => void session.close());
      try {
        const res = await session.exec(argv, {
          sudo: true,
          // A terminal makes `docker logs --follow` end (SIGHUP) when we disconnect, instead of lingering.
          pty: args.follow,
          onOutput: (chunk) => process.stdout.write(args.follow ? chunk.replace(/\r\n/g, "\n") : chunk),
        });
        if (res.code !== 0 && /No such container/i.test(res.stderr)) {
          throw new OdapiError(
            `container ${argv[argv.length - 1]} does not exist on ${session.target.host}`,
            "start it with odapi deploy (or check --container: the gateway exists only with an API key)",
            "notFound",
          );
        }
        // 255: the connection we closed on Ctrl-C ended a --follow.
        const failure =
          args.follow && res.code === 255 ? undefined : dockerFailure(argv, res, session.target);
        if (failure) throw failure;
      } catch (err) {
        // The connection we closed on Ctrl-C is not an error.
        if (!(args.follow && err instanceof OdapiError && err.exitCode === 3)) throw err;
      } finally {
        release();
      }
    });
  },
};
