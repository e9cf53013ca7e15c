// `odapi status --stack scale` against moto's server: a real Auto Scaling group over two subnets and an ALB target
// group with one instance registered, read through the stack outputs autoScalingGroup and targetGroupArn.
import { writeFileSync } from "node:fs";
import path from "node:path";
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  CreateLaunchConfigurationCommand,
  DescribeAutoScalingGroupsCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeSubnetsCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { replicaReportOf, scaleStackOf } from "../../bootstrap/aws/replicas";
import { formatReplicaStatus } from "../../cli/status-replicas";
import { ExitCode } from "../../common/errors";
import { type MotoServer, startMoto } from "../../scripts/harness/moto";
import { runOdapi } from "../helpers/run";
import { makeTempDir, removeDir } from "../helpers/tmp";

const GROUP = "odapi-scale-replicas";

describe("replica report (pure)", () => {
  test("joins instances with target health; unregistered ones say so; sorted by zone", () => {
    const s = scaleStackOf({ autoScalingGroup: "g", targetGroupArn: "arn:tg", apiUrl: "https://x" }, "scale");
    const r = replicaReportOf(
      s,
      {
        MinSize: 1,
        MaxSize: 3,
        DesiredCapacity: 2,
        Instances: [
          {
            InstanceId: "i-b",
            AvailabilityZone: "us-east-1b",
            LifecycleState: "Pending",
            HealthStatus: "Healthy",
          },
          {
            InstanceId: "i-a",
            AvailabilityZone: "us-east-1a",
            LifecycleState: "InService",
            HealthStatus: "Healthy",
            InstanceType: "t3.large",
          },
        ],
      } as never,
      [
        { Target: { Id: "i-b" }, TargetHealth: { State: "initial", Reason: "Elb.InitialHealthChecking" } },
        { Target: { Id: "i-a" }, TargetHealth: { State: "healthy" } },
      ],
    );
    expect(r.healthy).toBe(1);
    expect(r.replicas.map((x) => [x.instanceId, x.target, x.reason])).toEqual([
      ["i-a", "healthy", undefined],
      ["i-b", "initial", "Elb.InitialHealthChecking"],
    ]);
    expect(formatReplicaStatus(r)).toMatch(
      /^stack scale: 1 of 2 replicas healthy .*min 1, desired 2, max 3\)/,
    );
  });

  test("a stack without the scale outputs is refused with the fix", () => {
    expect(() => scaleStackOf({ instanceId: "i-1" }, "cpu")).toThrow(
      /stack cpu has no autoScalingGroup or targetGroupArn output: it is not a scale stack/,
    );
  });
});

describe("odapi status --stack scale against moto", () => {
  let moto: MotoServer;
  let bin: string;
  let instances: string[];
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    moto = await startMoto();
    const cfg = {
      region: "us-east-1",
      endpoint: moto.endpoint,
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    };
    const ec2 = new EC2Client(cfg);
    const asg = new AutoScalingClient(cfg);
    const elb = new ElasticLoadBalancingV2Client(cfg);
    const subnets = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
    const two = subnets.filter(
      (s, i, all) => all.findIndex((o) => o.AvailabilityZone === s.AvailabilityZone) === i,
    );
    await asg.send(
      new CreateLaunchConfigurationCommand({
        LaunchConfigurationName: "odapi-lc",
        ImageId: "ami-12c6146b",
        InstanceType: "t3.large",
      }),
    );
    await asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: GROUP,
        LaunchConfigurationName: "odapi-lc",
        MinSize: 1,
        MaxSize: 4,
        DesiredCapacity: 2,
        VPCZoneIdentifier: two
          .slice(0, 2)
          .map((s) => s.SubnetId)
          .join(","),
      }),
    );
    const group = (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [GROUP] })))
      .AutoScalingGroups?.[0];
    instances = (group?.Instances ?? []).map((i) => i.InstanceId ?? "");
    const tg = await elb.send(
      new CreateTargetGroupCommand({
        Name: "odapi-scale-tg",
        Protocol: "HTTP",
        Port: 8080,
        VpcId: two[0].VpcId,
        HealthCheckPath: "/healthz",
        TargetType: "instance",
      }),
    );
    const arn = tg.TargetGroups?.[0].TargetGroupArn ?? "";
    // One replica registered, the other not (yet): both must show, each with its own health.
    await elb.send(
      new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: instances[0], Port: 8080 }] }),
    );
    for (const c of [ec2, asg, elb]) c.destroy();

    // The Pulumi CLI cannot run here: a stand-in answers exactly the documented command for two stacks.
    bin = makeTempDir("odapi-pulumi-");
    const scale = JSON.stringify({
      apiUrl: "https://lb.example",
      models: ["m"],
      autoScalingGroup: GROUP,
      targetGroupArn: arn,
    });
    const gone = JSON.stringify({
      apiUrl: "https://lb.example",
      models: ["m"],
      autoScalingGroup: "deleted-group",
      targetGroupArn: arn,
    });
    writeFileSync(
      path.join(bin, "pulumi"),
      `#!/bin/sh\ncase "$*" in\n  "stack output --json --show-secrets -s scale") echo '${scale}';;\n` +
        `  "stack output --json --show-secrets -s gone") echo '${gone}';;\n` +
        `  "stack output --json --show-secrets -s cpu") echo '{"apiUrl":"http://h:8501","models":["m"],"instanceId":"i-0123456789abcdef0"}';;\n` +
        `  *) echo "error: no stack named '$6' found" >&2; exit 255;;\nesac\n`,
      { mode: 0o755 },
    );
    env = { ...moto.env, PATH: `${bin}:${process.env.PATH}` };
  }, 60_000);

  afterAll(async () => {
    if (bin) removeDir(bin);
    await moto?.stop();
  });

  test("--json: the group's sizes and every replica with its target health", async () => {
    expect(instances).toHaveLength(2);
    const r = await runOdapi(["status", "--stack", "scale", "--json"], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect([doc.stack, doc.autoScalingGroup, doc.min, doc.desired, doc.max]).toEqual([
      "scale",
      GROUP,
      1,
      2,
      4,
    ]);
    const byId = Object.fromEntries(doc.replicas.map((x: { instanceId: string }) => [x.instanceId, x]));
    expect(Object.keys(byId).sort()).toEqual([...instances].sort());
    expect(byId[instances[1]].target).toBe("not registered");
    expect(byId[instances[0]].target).not.toBe("not registered");
    expect(
      doc.replicas.every((x: { lifecycle: string; instanceType: string }) => x.lifecycle === "InService"),
    ).toBe(true);
    // moto places the group's instances in its subnets' zones (not necessarily spread): each names one.
    for (const x of doc.replicas) expect(x.availabilityZone).toMatch(/^us-east-1[a-f]$/);
    expect(doc.healthy).toBe(doc.replicas.filter((x: { target: string }) => x.target === "healthy").length);
  });

  test("the table names every replica, its zone and target health", async () => {
    const r = await runOdapi(["status", "--stack", "scale"], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^stack scale: \d of 2 replicas healthy in the load balancer \(group odapi-scale-replicas: min 1, desired 2, max 4\)/,
    );
    for (const id of instances) expect(r.stdout).toContain(id);
    expect(r.stdout).toContain("not registered");
    expect(r.stdout).toContain("target health");
  });

  test("a group that no longer exists → notFound, one JSON object with --json", async () => {
    const r = await runOdapi(["status", "--stack", "gone", "--json"], { env });
    expect(r.code).toBe(ExitCode.notFound);
    expect(JSON.parse(r.stdout).error.message).toMatch(/Auto Scaling group deleted-group does not exist/);
  });

  test("a single-host stack (no autoScalingGroup output) gets the instance view, not the replica listing", async () => {
    const r = await runOdapi(["status", "--stack", "cpu"], { env });
    // moto has no such instance: the instance view's not-found names it.
    expect(r.code).toBe(ExitCode.notFound);
    expect(r.stderr).toMatch(/i-0123456789abcdef0/);
    expect(r.stderr).not.toMatch(/Auto Scaling group/);
  });

  test("--help lists the exit codes of --stack", async () => {
    const r = await runOdapi(["status", "--help"]);
    expect(r.stdout).toMatch(/--stack/);
    expect(r.stdout).toMatch(/\d+ --stack: the instance or the Auto Scaling group not found/);
  });
});
