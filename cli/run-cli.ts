// The one top-level handler every entry runs through (`odapi`, the test-endpoint shim): it parses, runs the
// command, prints a failure once (plus one JSON object with --json), and turns it into the exit code.
import yargs, { type Argv } from "yargs";
import { ExitCode, failureJson, formatError, isOdapiError, OdapiError, toUserError } from "../common/errors";
import { installInterrupt, wasInterrupted } from "./interrupt";
import { rejectRepeatedFlags } from "./repeated-flags";

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const stdio: CliIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

/** Thrown by a command that has printed its own outcome already (e.g. a bench report): exit with this code. */
export class ReportedFailure extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

export interface CliSpec {
  argv: string[];
  scriptName: string;
  /** The fix printed under yargs' own usage errors (unknown flag, missing value). */
  usageFix: string;
  /** Adds the commands or options; handlers run inside parseAsync. */
  build: (y: Argv) => Argv;
  io?: CliIo;
}

/** A yargs parser with the settings every entry shares: strict, help, usage errors as OdapiErrors, one value per flag. */
export function baseParser(argv: string[], scriptName: string, usageFix: string): Argv {
  const y: Argv = yargs(argv)
    .scriptName(scriptName)
    .strict()
    .help()
    .alias("h", "help")
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((msg, err) => {
      throw err ?? new OdapiError(msg, usageFix, "usage");
    });
  // getOptions() is public in yargs 17 but missing from its types; during a command it holds that command's options.
  const options = () => (y as unknown as { getOptions(): { array: string[] } }).getOptions();
  return y.middleware((a) => rejectRepeatedFlags(a, options().array), true);
}

/** Runs the parser and its command; returns the exit code (never throws). */
export async function runCli(spec: CliSpec): Promise<number> {
  const io = spec.io ?? stdio;
  const json = spec.argv.includes("--json");
  const verbose = spec.argv.includes("--verbose");
  const report = (err: unknown): number => {
    const e = interruptedAs(toUserError(err));
    io.err(`${formatError(e, verbose)}\n`);
    if (json) io.out(`${JSON.stringify(failureJson(e))}\n`);
    return isOdapiError(e) ? e.exitCode : ExitCode.failure;
  };
  const uninstall = installInterrupt(() =>
    process.exit(
      report(new OdapiError("interrupted (Ctrl-C)", "rerun the command when you are ready", "interrupted")),
    ),
  );
  // If the event loop empties while a command is still pending (a callback that never came), node would exit 0.
  const unfinished = () => {
    process.exitCode = report(
      new OdapiError("internal: the command stopped before finishing", "rerun with --verbose and report it"),
    );
  };
  process.once("beforeExit", unfinished);
  try {
    await spec.build(baseParser(spec.argv, spec.scriptName, spec.usageFix)).parseAsync();
    return wasInterrupted() ? ExitCode.interrupted : ExitCode.ok;
  } catch (err) {
    if (err instanceof ReportedFailure) return wasInterrupted() ? ExitCode.interrupted : err.exitCode;
    return report(err);
  } finally {
    process.removeListener("beforeExit", unfinished);
    uninstall();
  }
}

/** After Ctrl-C, whatever ended the command (e.g. "deploy cancelled") exits 130. */
function interruptedAs(err: unknown): unknown {
  if (!wasInterrupted() || (isOdapiError(err) && err.exitCode === ExitCode.interrupted)) return err;
  return isOdapiError(err)
    ? new OdapiError(err.message, err.remedy, "interrupted", { cause: err })
    : new OdapiError("interrupted (Ctrl-C)", "rerun the command when you are ready", "interrupted", {
        cause: err,
      });
}
