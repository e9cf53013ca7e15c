// The two EC2 calls the cost guard needs (describe one instance, start it) and the wait until it runs. The client
// takes the SDK's defaults, so AWS_REGION, AWS_ENDPOINT_URL, profiles and SSO work as in the AWS CLI.
import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  EC2Client,
  StartInstancesCommand,
} from "@aws-sdk/client-ec2";
import { OdapiError } from "../../common/errors";
import { pollDelayMs, sleep } from "../deploy/wait-ready";
import { AWS_MAX_ATTEMPTS, quietSdkNodeNotice } from "./client-defaults";
import { commonAwsError, sdkCode } from "./errors";

export interface InstanceInfo {
  instanceId: string;
  /** pending | running | stopping | stopped | shutting-down | terminated */
  state: string;
  instanceType: string;
  /** The last start (EC2 resets it at every start): the running time bills from here. */
  launchTime?: Date;
  publicIp?: string;
  region: string;
}

export interface Ec2Where {
  region: string;
  endpoint?: string;
}

/** Region and endpoint as the SDK will use them, for messages; the region from the stack wins over the env (pure). */
export function ec2Where(env: NodeJS.ProcessEnv, stackRegion?: string): Ec2Where {
  const region = stackRegion || env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new OdapiError(
      "no AWS region: the stack has no region output and AWS_REGION is not set",
      "export AWS_REGION=<the stack's region> (pulumi config get aws:region), or rerun `pulumi up` for the new outputs",
      "config",
    );
  }
  const endpoint = env.AWS_ENDPOINT_URL_EC2 || env.AWS_ENDPOINT_URL || undefined;
  return { region, ...(endpoint ? { endpoint } : {}) };
}

export function createEc2Client(where: Ec2Where): EC2Client {
  quietSdkNodeNotice();
  // The endpoint itself comes from the SDK's defaults.
  return new EC2Client({ region: where.region, maxAttempts: AWS_MAX_ATTEMPTS });
}

/** An OdapiError for any EC2 failure (pure). */
export function ec2Error(err: unknown, where: Ec2Where, instanceId: string): OdapiError {
  if (err instanceof OdapiError) return err;
  const at = where.endpoint ?? `EC2 in ${where.region}`;
  const common = commonAwsError(err, {
    service: "EC2",
    at,
    ...(where.endpoint ? { endpoint: where.endpoint } : {}),
    aftermath: "nothing was changed",
    rerun: "starting an instance that already runs changes nothing",
  });
  if (common) return common;
  const code = sdkCode(err);
  const opts = { cause: err };
  if (/^InvalidInstanceID\.(NotFound|Malformed)$/.test(code)) {
    return new OdapiError(
      `instance ${instanceId} does not exist in ${where.region} (${code})`,
      "check the region (AWS_REGION, aws:region) and that the stack is deployed: pulumi stack output instanceId; terminated instances disappear after about an hour",
      "notFound",
      opts,
    );
  }
  if (code === "UnauthorizedOperation") {
    return new OdapiError(
      `not allowed to act on ${instanceId} (${code})`,
      "use credentials allowed ec2:DescribeInstances and ec2:StartInstances (Learner Lab: the lab's own credentials)",
      "auth",
      opts,
    );
  }
  if (code === "InsufficientInstanceCapacity") {
    return new OdapiError(
      `AWS has no capacity for this instance type in its zone right now (${code})`,
      "retry in a few minutes; nothing was lost: the disk and the Elastic IP stay with the stopped instance",
      "serverError",
      opts,
    );
  }
  const message = (err as { message?: string } | undefined)?.message;
  return new OdapiError(
    `EC2 request failed: ${message || code || "unknown error"}`,
    "rerun with --verbose",
    "failure",
    opts,
  );
}

export async function describeInstance(
  client: EC2Client,
  where: Ec2Where,
  instanceId: string,
): Promise<InstanceInfo> {
  let out: DescribeInstancesCommandOutput;
  try {
    out = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  } catch (err) {
    throw ec2Error(err, where, instanceId);
  }
  const i = out.Reservations?.[0]?.Instances?.[0];
  if (!i) throw ec2Error({ name: "InvalidInstanceID.NotFound" }, where, instanceId);
  return {
    instanceId,
    state: i.State?.Name ?? "unknown",
    instanceType: i.InstanceType ?? "unknown",
    ...(i.LaunchTime ? { launchTime: new Date(i.LaunchTime) } : {}),
    ...(i.PublicIpAddress ? { publicIp: i.PublicIpAddress } : {}),
    region: where.region,
  };
}

export async function startInstance(client: EC2Client, where: Ec2Where, instanceId: string): Promise<void> {
  try {
    await client.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
  } catch (err) {
    throw ec2Error(err, where, instanceId);
  }
}

/** What a state means for a start: go ahead, done already, wait for it to settle, or impossible (pure). */
export function startDecision(state: string): "start" | "running" | "wait" | "gone" {
  if (state === "stopped") return "start";
  if (state === "running") return "running";
  if (state === "shutting-down" || state === "terminated") return "gone";
  return "wait";
}

/** Polls until the instance is `running` (capped backoff), against a deadline; stopping first is waited out too. */
export async function waitUntilRunning(
  client: EC2Client,
  where: Ec2Where,
  instanceId: string,
  opts: { deadlineMs: number; pollMinMs?: number; pollMaxMs?: number; onState?: (state: string) => void },
): Promise<InstanceInfo> {
  const deadline = Date.now() + opts.deadlineMs;
  let last = "";
  for (let attempt = 0; ; attempt++) {
    const info = await describeInstance(client, where, instanceId);
    if (info.state !== last) opts.onState?.(info.state);
    last = info.state;
    const decision = startDecision(info.state);
    if (decision === "running") return info;
    if (decision === "gone") {
      throw new OdapiError(
        `instance ${instanceId} is ${info.state}: it cannot be started`,
        "create it again with `pulumi up` (the models are deployed anew)",
        "notFound",
      );
    }
    if (decision === "start") await startInstance(client, where, instanceId);
    if (Date.now() >= deadline) {
      throw new OdapiError(
        `instance ${instanceId} was not running within ${Math.round(opts.deadlineMs / 1000)} s (last state: ${info.state})`,
        "rerun `odapi start` (it picks up where it is), or check the instance in the EC2 console",
        "timeout",
      );
    }
    await sleep(
      Math.min(pollDelayMs(attempt, opts.pollMinMs ?? 1000, opts.pollMaxMs ?? 5000), deadline - Date.now()),
    );
  }
}
