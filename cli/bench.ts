// `odapi bench`: load a deployed detection API and report latency percentiles, throughput and a histogram.
import type { CommandModule } from "yargs";
import { runBenchCommand } from "./bench-run";
import {
  CLIENT_DESCRIPTION,
  type ClientArgs,
  clientExitCodeHelp,
  toClientOptions,
  withBenchOptions,
  withTargetOptions,
} from "./client-options";
import { processIo } from "./client-target";

export const benchCommand: CommandModule<object, ClientArgs> = {
  command: "bench",
  builder: (y) =>
    withBenchOptions(withTargetOptions(y.version(false)))
      .usage(
        "$0 bench [options]\n\nBenchmark each model: latency percentiles, requests/s, a JSON report with every latency " +
          `and a histogram PNG in --out. Ctrl-C stops sending and still writes the report.\n${CLIENT_DESCRIPTION}`,
      )
      .example(
        "$0 bench --stack gpu --requests 500 --concurrency 16 --model ssd_mobilenet_v2 --model efficientdet_d0",
        "compare two models side by side",
      )
      .epilogue(clientExitCodeHelp()) as never,
  handler: (a) => runBenchCommand(toClientOptions(a, true), processIo()),
};
