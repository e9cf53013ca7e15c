// `odapi start --stack S`: start the stack's stopped EC2 instance (idle auto-stop or `aws ec2 stop-instances`),
// wait until it runs, then until every model answers a real detection, and print the deploy's summary.
import type { CommandModule } from "yargs";
import { createEc2Client, ec2Where, waitUntilRunning } from "../bootstrap/aws/ec2";
import { idleRuleText } from "../bootstrap/aws/idle-rule";
import { formatHourly, hourlyPrice } from "../bootstrap/aws/prices";
import { stackInstanceOf } from "../bootstrap/aws/stack-instance";
import { type ModelReady, readyLine, waitUntilServing } from "../bootstrap/deploy/wait-ready";
import { readStackOutputs } from "../client/stack";
import { PROJECT_ROOT } from "../common/paths";
import { withScheme } from "./client-target";
import { exitCodeHelp } from "./exit-codes";

interface StartArgs {
  stack: string;
  wait: number;
  "sample-image"?: string;
  json?: boolean;
}

export interface StartResult {
  stack: string;
  instanceId: string;
  region: string;
  instanceType: string;
  /** false: it was running already (start is idempotent). */
  started: boolean;
  apiUrl: string;
  models: ModelReady[];
  hourlyUsd?: number;
  idleStopMinutes?: number;
  seconds: number;
}

/** The summary a deploy prints, for a start (pure). */
export function formatStart(r: StartResult): string {
  return [
    ...r.models.map(readyLine),
    `${r.started ? "started" : "already running:"} ${r.instanceId} (stack ${r.stack}) in ${r.seconds} s; API ${r.apiUrl}`,
    formatHourly(r.instanceType, r.region),
    idleRuleText(r.idleStopMinutes),
  ].join("\n");
}

export const startCommand: CommandModule<object, StartArgs> = {
  command: "start",
  builder: (y) =>
    y
      .option("stack", {
        type: "string",
        demandOption: true,
        describe: "Pulumi stack whose EC2 instance to start (cpu, gpu)",
      })
      .option("wait", {
        type: "number",
        default: 600,
        describe: "Seconds to wait for the instance to run and every model to answer one detection",
      })
      .option("sample-image", {
        type: "string",
        describe: "Image for the proof detection (default samples/astronaut.jpg)",
      })
      .option("json", { type: "boolean", default: false, describe: "Print one JSON object" })
      .example("$0 start --stack gpu", "Start the gpu stack's instance and wait until it detects again")
      .epilogue(
        `Reads the stack's outputs with the pulumi CLI; AWS credentials and AWS_ENDPOINT_URL as for the AWS CLI.
${exitCodeHelp(["unreachable", "auth", "timeout", "notFound", "badRequest", "missingTool", "serverError"], {
  notFound: "the instance or a model not found",
})}`,
      ) as never,
  handler: async (args) => {
    const t0 = Date.now();
    const log = (line: string) => process.stderr.write(`odapi: ${line}\n`);
    const inst = stackInstanceOf(await readStackOutputs(args.stack, PROJECT_ROOT), args.stack);
    const where = ec2Where(process.env, inst.region);
    const ec2 = createEc2Client(where);
    let started = false;
    try {
      const info = await waitUntilRunning(ec2, where, inst.instanceId, {
        deadlineMs: args.wait * 1000,
        onState: (state) => {
          if (state !== "running") started = true;
          log(`${inst.instanceId}: ${state}`);
        },
      });
      const apiUrl = withScheme(inst.api.apiUrl);
      log(`waiting for ${inst.api.models.join(", ")} to answer at ${apiUrl}`);
      const models = await waitUntilServing(apiUrl, inst.api.models, {
        deadlineMs: Math.max(1000, t0 + args.wait * 1000 - Date.now()),
        ...(inst.api.apiKey ? { apiKey: inst.api.apiKey } : {}),
        ...(inst.api.caCertificate ? { caCert: inst.api.caCertificate } : {}),
        ...(args["sample-image"] ? { sampleImage: args["sample-image"] } : {}),
      });
      const hourlyUsd = hourlyPrice(info.instanceType, where.region);
      const result: StartResult = {
        stack: args.stack,
        instanceId: inst.instanceId,
        region: where.region,
        instanceType: info.instanceType,
        started,
        apiUrl,
        models,
        ...(hourlyUsd !== undefined ? { hourlyUsd } : {}),
        ...(inst.idleStopMinutes !== undefined ? { idleStopMinutes: inst.idleStopMinutes } : {}),
        seconds: Math.round((Date.now() - t0) / 100) / 10,
      };
      process.stdout.write(args.json ? `${JSON.stringify(result)}\n` : `${formatStart(result)}\n`);
    } finally {
      ec2.destroy();
    }
  },
};
