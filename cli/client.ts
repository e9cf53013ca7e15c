// `npx zx bootstrap/test-endpoint.mjs [flags]`: the client's original entry, kept flag for flag — `--bench`
// runs what `odapi bench` runs, anything else what `odapi detect` runs.
import type { Argv } from "yargs";
import { runBenchCommand } from "./bench-run";
import {
  CLIENT_DESCRIPTION,
  type ClientArgs,
  type ClientOptions,
  clientExitCodeHelp,
  toClientOptions,
  withBenchOptions,
  withDetectOptions,
  withTargetOptions,
} from "./client-options";
import { type ClientIo, processIo } from "./client-target";
import { runDetect } from "./detect-run";
import { baseParser, runCli } from "./run-cli";

export type { ClientOptions } from "./client-options";
export { resolveTarget, withScheme } from "./client-target";

const SCRIPT = "npx zx bootstrap/test-endpoint.mjs";
const USAGE_FIX = "see --help";

type ShimArgs = ClientArgs & { bench: boolean; verbose: boolean };

function withShimOptions(y: Argv): Argv<ShimArgs> {
  const withFlags = withDetectOptions(withTargetOptions(y))
    .option("verbose", { type: "boolean", default: false, describe: "Print stack traces on errors" })
    .option("bench", {
      type: "boolean",
      default: false,
      describe: "Benchmark instead of showing detections",
    });
  return withBenchOptions(withFlags)
    .usage(
      "$0 [options]\n\nCheck a deployed object-detection API: model status and signature, then detections per image\n" +
        "(a table with COCO labels, scores and pixel boxes, plus an annotated copy), or a benchmark with --bench\n" +
        `(the same as \`odapi detect\` and \`odapi bench\`). ${CLIENT_DESCRIPTION}`,
    )
    .example("$0", "stack cpu, every model, the sample photo")
    .example(
      "$0 --url http://203.0.113.7:8501 --image photos/ --min-score 0.3",
      "any server, a folder of images",
    )
    .example(
      "$0 --stack gpu --bench --requests 500 --concurrency 16 --model ssd_mobilenet_v2 --model efficientdet_d0",
      "compare two models side by side",
    )
    .epilogue(clientExitCodeHelp())
    .version(false) as Argv<ShimArgs>;
}

/** Parses the shim's argv; undefined when --help was printed. */
export async function parseArgs(
  argv: string[],
  print: (s: string) => void,
): Promise<ClientOptions | undefined> {
  let printed = false;
  const a = await withShimOptions(baseParser(argv, SCRIPT, USAGE_FIX)).parseAsync(
    argv,
    {},
    (_e, _a, output) => {
      if (output) {
        printed = true;
        print(output);
      }
    },
  );
  return printed || a.help ? undefined : toClientOptions(a, a.bench);
}

/** Runs the client as the shim does; returns the process exit code. */
export function main(argv: string[], io: ClientIo = processIo()): Promise<number> {
  return runCli({
    argv,
    scriptName: SCRIPT,
    usageFix: USAGE_FIX,
    io,
    build: (y) =>
      withShimOptions(y).command(
        "$0",
        false,
        () => undefined,
        (a) => {
          const opts = toClientOptions(a as ShimArgs, (a as ShimArgs).bench);
          return opts.bench ? runBenchCommand(opts, io) : runDetect(opts, io);
        },
      ),
  });
}
