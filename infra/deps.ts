// The program's real I/O (network, disk, AWS lookups), gathered so tests can swap each one.
import { stat } from "node:fs/promises";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { scanLocalModels } from "../bootstrap/transfer";
import { PROJECT_ROOT } from "../common/paths";
import type { ProgramDeps } from "./preflight";
import { detectPublicIp } from "./public-ip";

/** The project root: Pulumi.yaml, bin/odapi.cjs. */
export const PROJECT_DIR = PROJECT_ROOT;

export function realDeps(): ProgramDeps {
  return {
    stack: pulumi.getStack(),
    projectDir: PROJECT_DIR,
    detectPublicIp: () => detectPublicIp(),
    scanLocalModels: async (dir) =>
      (await scanLocalModels(dir)).map((f) => ({ relPath: f.relPath, sha256: f.sha256, size: f.size })),
    lookupAmi: (args) => aws.ec2.getAmi(args),
    log: (message) => pulumi.log.info(message),
    pathExists: async (p) =>
      stat(p).then(
        (s) => s.isDirectory(),
        () => false,
      ),
  };
}
