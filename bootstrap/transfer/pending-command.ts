// A remote command started now and fed its stdin later: its shell start (one round trip plus the login
// shell's init, ~0.3 s on this machine) overlaps the upload instead of following it.
import type { ClientChannel } from "ssh2";
import { OdapiError } from "../../common/errors";
import { shellJoin } from "../../common/shell";
import type { ExecResult, SshSession } from "../ssh/session";

export interface PendingCommand {
  /** Sends part of stdin now (buffered until the command has started). */
  write(text: string): void;
  /** Sends stdin (then EOF) and resolves with the command's result. */
  finish(stdin: string): Promise<ExecResult>;
  /** Closes stdin with nothing sent: the command must treat that as "change nothing". */
  cancel(): void;
}

export function startPending(session: SshSession, argv: string[]): PendingCommand {
  let channel: ClientChannel | undefined;
  let early = "";
  let input: string | undefined;
  const where = `${session.target.user}@${session.target.host}`;
  const result = new Promise<ExecResult>((resolve, reject) => {
    const onLost = () =>
      reject(
        new OdapiError(
          `the SSH connection to ${where} was lost before the upload was committed; the served models are unchanged`,
          "check the network, then rerun the same command: verified files already on the server are kept",
          "unreachable",
        ),
      );
    session.client.once("close", onLost);
    session.client.exec(shellJoin(argv), (err, stream) => {
      if (err) {
        session.client.removeListener("close", onLost);
        reject(
          new OdapiError(
            `could not start a command on ${where}: ${err.message}`,
            "the server may limit sessions per connection (MaxSessions); raise it in sshd_config, then rerun",
            "unreachable",
          ),
        );
        return;
      }
      channel = stream;
      let stdout = "";
      let stderr = "";
      let code = 255;
      // Both streams must be consumed or the channel never closes (design.md).
      stream.on("data", (d: Buffer) => {
        stdout += d.toString("utf8");
      });
      stream.stderr.on("data", (d: Buffer) => {
        stderr += d.toString("utf8");
      });
      stream.on("exit", (c: number | null) => {
        if (typeof c === "number") code = c;
      });
      stream.on("close", () => {
        session.client.removeListener("close", onLost);
        resolve({ code, stdout, stderr });
      });
      if (early) stream.write(early);
      if (input !== undefined) stream.end(input);
    });
  });
  result.catch(() => undefined); // observed through finish(); a cancelled command's outcome does not matter
  return {
    write(text) {
      if (channel) channel.write(text);
      else early += text;
    },
    finish(stdin) {
      if (channel) channel.end(stdin);
      else input = stdin;
      return result;
    },
    cancel() {
      if (channel) channel.end();
      else input = "";
    },
  };
}
