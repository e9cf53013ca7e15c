// The table of `odapi` commands: name and one-line description here, the module loaded only when it runs, so
// `odapi --help` and every command start without loading the others' dependencies (ssh2, jimp, Pulumi …).
import type { CommandModule } from "yargs";

// biome-ignore lint/suspicious/noExplicitAny: each command has its own argument type; yargs checks them per command.
type AnyCommand = CommandModule<object, any>;

export interface CommandEntry {
  name: string;
  describe: string;
  /** `require`, not `import()`: tsx's CommonJS hook (bin/odapi.cjs) compiles what require loads. */
  load: () => AnyCommand;
}

export const COMMANDS: CommandEntry[] = [
  {
    name: "local",
    describe: "Serve the prepared models with the local Docker engine (like a deployed host), then test them",
    load: () => (require("./local") as typeof import("./local")).localCommand,
  },
  {
    name: "prepare",
    describe: "Wrap detectors so TF Serving takes base64 JPEG/PNG: catalog models or your own SavedModel",
    load: () => (require("./prepare") as typeof import("./prepare")).prepareCommand,
  },
  {
    name: "deploy",
    describe:
      "Upload models and TF Serving config to a host over SSH, start serving, and wait until it answers",
    load: () => (require("./deploy") as typeof import("./deploy")).deployCommand,
  },
  {
    name: "status",
    describe: "Show the serving containers and each deployed model's state on a host",
    load: () => (require("./status") as typeof import("./status")).statusCommand,
  },
  {
    name: "logs",
    describe: "Print the TF Serving container's log from the host (--follow to keep streaming)",
    load: () => (require("./logs") as typeof import("./logs")).logsCommand,
  },
  {
    name: "stop",
    describe:
      "Stop and remove the serving containers on a host (models and config stay; deploy starts them again)",
    load: () => (require("./stop") as typeof import("./stop")).stopCommand,
  },
  {
    name: "detect",
    describe:
      "Check a deployed API: model status and signature, then labelled detections and annotated images",
    load: () => (require("./detect") as typeof import("./detect")).detectCommand,
  },
  {
    name: "bench",
    describe: "Benchmark a deployed API: latency percentiles, throughput and a histogram per model",
    load: () => (require("./bench") as typeof import("./bench")).benchCommand,
  },
];

/** The command named in argv: the first word that is not a flag (global flags take no value). */
export function invokedCommand(argv: string[]): CommandEntry | undefined {
  const word = argv.find((a) => !a.startsWith("-"));
  return COMMANDS.find((c) => c.name === word);
}
