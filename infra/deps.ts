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
    lookupDefaultSubnets: async (instanceType) => {
      const vpc = await aws.ec2.getVpc({ default: true });
      // Not every AZ offers every type (us-east-1e has no t3): the group uses only zones that do.
      const offered = await aws.ec2.getInstanceTypeOfferings({
        locationType: "availability-zone",
        filters: [{ name: "instance-type", values: [instanceType] }],
      });
      const subnets = await aws.ec2.getSubnets({
        filters: [
          { name: "vpc-id", values: [vpc.id] },
          { name: "default-for-az", values: ["true"] },
          { name: "availability-zone", values: offered.locations },
        ],
      });
      return { vpcId: vpc.id, cidrBlock: vpc.cidrBlock, subnetIds: [...subnets.ids].sort() };
    },
    pathExists: async (p) =>
      stat(p).then(
        (s) => s.isDirectory(),
        () => false,
      ),
  };
}
