// The `odapi` command line: one module per command, one top-level error handler.
import yargs, { type CommandModule } from "yargs";
import { exitCodeOf, formatError } from "../common/errors";
import { deployCommand } from "./deploy";
import { localCommand } from "./local";
import { logsCommand } from "./logs";
import { prepareCommand } from "./prepare";
import { statusCommand } from "./status";
import { stopCommand } from "./stop";

// Each command lives in its own module beside this file; add new ones here.
// biome-ignore lint/suspicious/noExplicitAny: each command has its own argument type; yargs checks them per command.
const commands: CommandModule<object, any>[] = [
  localCommand,
  prepareCommand,
  deployCommand,
  statusCommand,
  logsCommand,
  stopCommand,
];

export async function main(argv: string[]): Promise<void> {
  const verbose = argv.includes("--verbose");
  // If the event loop empties while a command is still pending (a callback that never came), node would exit 0.
  const unfinished = () => {
    process.stderr.write(
      "error: internal: the command stopped before finishing\n  fix: rerun with --verbose and report it\n",
    );
    process.exitCode = 1;
  };
  process.once("beforeExit", unfinished);
  try {
    let cli = yargs(argv)
      .scriptName("odapi")
      .usage(
        "$0 <command> [options]\n\nDeploy and test an object detection REST API served by TensorFlow Serving.",
      )
      .option("verbose", { type: "boolean", default: false, describe: "Print stack traces on errors" })
      .demandCommand(1, "Name a command: see the list above.")
      .strict()
      .recommendCommands()
      .help()
      .alias("h", "help")
      .version()
      .wrap(Math.min(110, process.stdout.columns || 110))
      .fail((msg, err) => {
        throw err ?? new UsageError(msg);
      });
    for (const command of commands) cli = cli.command(command);
    await cli.parseAsync();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(
        `error: ${err.message}\n  fix: run \`odapi --help\` or \`odapi <command> --help\`\n`,
      );
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`${formatError(err, verbose)}\n`);
    process.exitCode = exitCodeOf(err);
  } finally {
    process.removeListener("beforeExit", unfinished);
  }
}

class UsageError extends Error {}
