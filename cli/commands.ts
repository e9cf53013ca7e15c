// The table of `odapi` commands: name and one-line description here, the module loaded only when it runs, so
// `odapi --help` and every command start without loading the others' dependencies (ssh2, jimp, Pulumi …).
import type { CommandModule } from "yargs";

// biome-ignore lint/suspicious/noExplicitAny: each command has its own argument type; yargs checks them per command.
type AnyCommand = CommandModule<object, any>;

export interface CommandEntry {
  name: string;
  describe: string;
  load: () => AnyCommand;
}

const DESCRIPTIONS = {
  local: "Serve the prepared models with the local Docker engine (like a deployed host), then test them",
  prepare: "Wrap detectors so TF Serving takes base64 JPEG/PNG: catalog models or your own SavedModel",
  deploy: "Upload models and TF Serving config to a host over SSH, start serving, and wait until it answers",
  publish: "Upload prepared models to S3, incrementally and manifest last, for replicas that sync themselves",
  status: "Show the serving containers and each deployed model's state on a host",
  logs: "Print the TF Serving container's log from the host (--follow to keep streaming)",
  stop: "Stop and remove the serving containers on a host (models and config stay; deploy starts them again)",
  start: "Start a stack's stopped EC2 instance and wait until every model answers a detection again",
  detect: "Check a deployed API: model status and signature, then labelled detections and annotated images",
  bench: "Benchmark a deployed API: latency percentiles, throughput and a histogram per model",
};

// `require` with literal paths, not `import()`: tsx's CommonJS hook (bin/odapi.cjs) compiles what require loads,
// and compilers and bundlers can still follow each path.
const LOADERS: Record<keyof typeof DESCRIPTIONS, () => AnyCommand> = {
  local: () => require("./local").localCommand,
  prepare: () => require("./prepare").prepareCommand,
  deploy: () => require("./deploy").deployCommand,
  publish: () => require("./publish").publishCommand,
  status: () => require("./status").statusCommand,
  logs: () => require("./logs").logsCommand,
  stop: () => require("./stop").stopCommand,
  start: () => require("./start").startCommand,
  detect: () => require("./detect").detectCommand,
  bench: () => require("./bench").benchCommand,
};

export const COMMANDS: CommandEntry[] = (Object.keys(DESCRIPTIONS) as (keyof typeof DESCRIPTIONS)[]).map(
  (name) => ({ name, describe: DESCRIPTIONS[name], load: LOADERS[name] }),
);

/** The command named in argv: the first word that is not a flag (global flags take no value). */
export function invokedCommand(argv: string[]): CommandEntry | undefined {
  const word = argv.find((a) => !a.startsWith("-"));
  return COMMANDS.find((c) => c.name === word);
}
