// `odapi detect`: prove a deployed detection API works — status, signature, labelled detections, annotated pictures.
import type { CommandModule } from "yargs";
import {
  CLIENT_DESCRIPTION,
  type ClientArgs,
  clientExitCodeHelp,
  toClientOptions,
  withDetectOptions,
  withTargetOptions,
} from "./client-options";
import { processIo } from "./client-target";
import { runDetect } from "./detect-run";

export const detectCommand: CommandModule<object, ClientArgs> = {
  command: "detect",
  builder: (y) =>
    withDetectOptions(withTargetOptions(y.version(false)))
      .usage(
        "$0 detect [options]\n\nModel status and signature, then detections per image: a table with COCO labels, " +
          `scores and pixel boxes, plus an annotated copy.\n${CLIENT_DESCRIPTION}`,
      )
      .example("$0 detect", "stack cpu, every model, the sample photo")
      .example(
        "$0 detect --url http://203.0.113.7:8501 --image photos/ --min-score 0.3",
        "any server, a folder of images",
      )
      .epilogue(clientExitCodeHelp()) as never,
  handler: (a) => runDetect(toClientOptions(a, false), processIo()),
};
