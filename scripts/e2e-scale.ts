// The scale stack's part of `npm run e2e:aws -- --stack scale`, after `pulumi up` proved a detection through the ALB:
// a detection with the test client, a bench at rising concurrency until the group adds a replica, a model v2 publish
// under continuous requests with zero failed requests, and (after destroy) a check that nothing is left behind.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { MODELS_PREFIX } from "../infra/scale/plan";
import { benchArgv, RISING_CONCURRENCY, servesOnly, tallyBench, testClientArgv } from "./e2e-plan";

export interface ScaleOutputs {
  apiUrl: string;
  models: string[];
  apiKey: string;
  caCertificate?: string;
  modelsBucket: string;
  autoScalingGroup: string;
  targetGroupArn: string;
}

type Log = (msg: string) => void;

/** Per concurrency step: how long the load is held waiting for target tracking (3 one-minute datapoints + boot). */
const STEP_MINUTES = 12;
/** The sync timer runs every 5 min (+30 s jitter) on each replica: every replica has v2 well within this. */
const ROLLOUT_MINUTES = 15;
const ROUND_REQUESTS = 200;

/** The environment every CLI call gets: the key, and the stack's CA for Node (a file, as Node requires). */
function cliEnv(o: ScaleOutputs, caFile?: string): NodeJS.ProcessEnv {
  return { ...process.env, ODAPI_API_KEY: o.apiKey, ...(caFile ? { NODE_EXTRA_CA_CERTS: caFile } : {}) };
}

function run(argv: string[], env: NodeJS.ProcessEnv, root: string) {
  const [cmd, ...args] = argv;
  return spawnSync(cmd as string, args, { cwd: root, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

async function inService(asg: AutoScalingClient, name: string): Promise<number> {
  const out = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
  const g = out.AutoScalingGroups?.[0];
  return (g?.Instances ?? []).filter((i) => i.LifecycleState === "InService").length;
}

/** Load at rising concurrency until the group has more instances in service than it started with. */
async function benchUntilScaledOut(o: ScaleOutputs, env: NodeJS.ProcessEnv, root: string, log: Log) {
  const asg = new AutoScalingClient({});
  const model = o.models[0] as string;
  const start = await inService(asg, o.autoScalingGroup);
  log(`scale-out: ${start} replica(s) in service before the load`);
  let failed = 0;
  for (const concurrency of RISING_CONCURRENCY) {
    const until = Date.now() + STEP_MINUTES * 60_000;
    while (Date.now() < until) {
      const r = run(benchArgv(o.apiUrl, model, ROUND_REQUESTS, concurrency), env, root);
      const t = tallyBench(r.stdout, ROUND_REQUESTS);
      failed += t.errors;
      const now = await inService(asg, o.autoScalingGroup);
      log(
        `scale-out: c=${concurrency} ${t.requestsPerSecond.toFixed(1)} req/s, ${t.errors} failed; ${now} in service`,
      );
      if (now > start) return { added: now - start, failed };
    }
  }
  return { added: 0, failed };
}

/** Publishes version 2 of the first model while requests flow; done when every status answer shows only v2. */
async function rolloutUnderLoad(o: ScaleOutputs, env: NodeJS.ProcessEnv, root: string, log: Log) {
  const model = o.models[0] as string;
  const dir = mkdtempSync(path.join(os.tmpdir(), "odapi-e2e-v2-"));
  try {
    const prep = run(
      ["node", "bin/odapi.cjs", "prepare", "--catalog", model, "--version", "2", "--out", dir, "--json"],
      env,
      root,
    );
    if (prep.status !== 0) throw new Error(`odapi prepare v2 failed: ${prep.stderr}`);
    const pub = run(
      [
        "node",
        "bin/odapi.cjs",
        "publish",
        "--bucket",
        o.modelsBucket,
        "--prefix",
        MODELS_PREFIX,
        "--models",
        dir,
        "--json",
      ],
      env,
      root,
    );
    if (pub.status !== 0) throw new Error(`odapi publish v2 failed: ${pub.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  log("rollout: version 2 published; sending requests until every answer comes from version 2");
  const until = Date.now() + ROLLOUT_MINUTES * 60_000;
  let requests = 0;
  let failed = 0;
  let onlyV2InARow = 0;
  // Several answers in a row (the ALB spreads them over the replicas) must all show only version 2.
  while (Date.now() < until && onlyV2InARow < 10) {
    const t = tallyBench(run(benchArgv(o.apiUrl, model, 50, 4), env, root).stdout, 50);
    requests += t.requests;
    failed += t.errors;
    // Through the CLI (the CA reaches Node only via NODE_EXTRA_CA_CERTS at process start): versions + a detection.
    const check = run(
      ["node", "bin/odapi.cjs", "detect", "--url", o.apiUrl, "--model", model, "--json"],
      env,
      root,
    );
    onlyV2InARow = servesOnly(check.stdout, "2") ? onlyV2InARow + 1 : 0;
  }
  return { requests, failed, complete: onlyV2InARow >= 10 };
}

/** The scale checks between up and destroy; returns whether they all passed. */
export async function exerciseScaleStack(o: ScaleOutputs, root: string, log: Log): Promise<boolean> {
  const caDir = mkdtempSync(path.join(os.tmpdir(), "odapi-e2e-ca-"));
  try {
    const caFile = o.caCertificate ? path.join(caDir, "ca.pem") : undefined;
    if (caFile) writeFileSync(caFile, o.caCertificate as string);
    const env = cliEnv(o, caFile);
    const detect = run(testClientArgv(o.apiUrl, o.models), env, root);
    log(`detect through the ALB: exit ${detect.status}`);
    const scaled = await benchUntilScaledOut(o, env, root, log);
    log(`scale-out: ${scaled.added} replica(s) added, ${scaled.failed} failed request(s)`);
    const rollout = await rolloutUnderLoad(o, env, root, log);
    log(
      `rollout: ${rollout.requests} requests, ${rollout.failed} failed, every replica on v2: ${rollout.complete ? "yes" : "no"}`,
    );
    return detect.status === 0 && scaled.added > 0 && rollout.failed === 0 && rollout.complete;
  } finally {
    rmSync(caDir, { recursive: true, force: true });
  }
}

/** After destroy: what of the stack still exists (instances not terminated, the group, the target group, the bucket). */
export async function leftBehind(o: ScaleOutputs, stackName: string): Promise<string[]> {
  const left: string[] = [];
  const asg = await new AutoScalingClient({}).send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [o.autoScalingGroup] }),
  );
  if (asg.AutoScalingGroups?.length) left.push(`auto scaling group ${o.autoScalingGroup}`);
  const instances = await new EC2Client({}).send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: "tag:Stack", Values: [stackName] },
        { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
      ],
    }),
  );
  for (const r of instances.Reservations ?? [])
    for (const i of r.Instances ?? []) left.push(`instance ${i.InstanceId}`);
  const tg = await new ElasticLoadBalancingV2Client({})
    .send(new DescribeTargetGroupsCommand({ TargetGroupArns: [o.targetGroupArn] }))
    .catch(() => undefined);
  if (tg?.TargetGroups?.length) left.push(`target group ${o.targetGroupArn}`);
  const bucket = await new S3Client({})
    .send(new HeadBucketCommand({ Bucket: o.modelsBucket }))
    .then(() => true)
    .catch(() => false);
  if (bucket) left.push(`bucket ${o.modelsBucket}`);
  return left;
}
