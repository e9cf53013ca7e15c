// The `odapi` command line: the command table, only the invoked command's module loaded, one top-level handler.
import { COMMANDS, invokedCommand } from "./commands";
import { runCli } from "./run-cli";

export async function main(argv: string[]): Promise<void> {
  const invoked = invokedCommand(argv);
  // Only the invoked command is loaded in full; the others are name + description for the command list.
  const chosen = invoked
    ? { ...invoked.load(), command: invoked.name, describe: invoked.describe }
    : undefined;
  process.exitCode = await runCli({
    argv,
    scriptName: "odapi",
    usageFix: "run `odapi --help` or `odapi <command> --help`",
    build: (y) => {
      let cli = y
        .usage(
          "$0 <command> [options]\n\nDeploy and test an object detection REST API served by TensorFlow Serving.",
        )
        .option("verbose", { type: "boolean", default: false, describe: "Print stack traces on errors" })
        .demandCommand(1, "Name a command: see the list above.")
        .recommendCommands()
        .version();
      for (const c of COMMANDS)
        cli = c === invoked && chosen ? cli.command(chosen) : cli.command(c.name, c.describe);
      return cli;
    },
  });
}
