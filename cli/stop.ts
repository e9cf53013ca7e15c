// `odapi stop`: stop and remove the serving containers (the uploaded models stay on the host).
import type { CommandModule } from "yargs";
import { checkRemoteDir } from "../common/remote-dir";
import { SCRIPTS, scriptArgv } from "../serving";
import {
  type ConnectionArgs,
  SSH_EXIT_CODES,
  withConnectionOptions,
  withSession,
} from "./connection-options";
import { exitCodeHelp } from "./exit-codes";
import { dockerFailure, withoutErrorLines } from "./remote-docker";

/** The stop.sh argv for a remote dir (pure; run with sudo). */
export function stopArgv(remoteDir: string): string[] {
  return scriptArgv(checkRemoteDir(remoteDir), SCRIPTS.stop);
}

export const stopCommand: CommandModule<object, ConnectionArgs> = {
  command: "stop",
  builder: (y) =>
    withConnectionOptions(y)
      .example("$0 stop --host 203.0.113.7 --user ubuntu --key k.pem --remote-dir /opt/odapi", "Stop serving")
      .epilogue(exitCodeHelp([...SSH_EXIT_CODES, "missingTool", "remoteIo"])) as never,
  handler: async (args) => {
    const argv = stopArgv(args["remote-dir"]);
    await withSession(args, async (session) => {
      const output = withoutErrorLines((s) => process.stderr.write(s));
      const res = await session.exec(argv, { sudo: true, onOutput: output.push, timeoutMs: 120_000 });
      output.end();
      const failure = dockerFailure(argv, res, session.target);
      if (failure) throw failure;
    });
    process.stdout.write(
      args.json ? `${JSON.stringify({ stopped: true })}\n` : `stopped odapi on ${args.host}\n`,
    );
  },
};
