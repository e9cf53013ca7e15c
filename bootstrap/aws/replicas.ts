// The scale stack's replicas as AWS sees them: the Auto Scaling group's instances (DescribeAutoScalingGroups) joined
// with their health in the ALB target group (DescribeTargetHealth). Clients take the SDK's defaults, so AWS_REGION,
// AWS_ENDPOINT_URL, profiles and SSO work as in the AWS CLI.
import {
  AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  type TargetHealthDescription,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { stringOutput as str } from "../../client/stack";
import { OdapiError } from "../../common/errors";
import { AWS_MAX_ATTEMPTS, quietSdkNodeNotice } from "./client-defaults";
import { commonAwsError, type SdkErrorLike } from "./errors";

/** The scale stack's outputs this module reads (part A's infra adds them). */
export const REPLICA_OUTPUTS = { group: "autoScalingGroup", targetGroup: "targetGroupArn" } as const;

export interface ScaleStack {
  stack: string;
  autoScalingGroup: string;
  targetGroupArn: string;
}

export interface Replica {
  instanceId: string;
  availabilityZone: string;
  instanceType?: string;
  /** InService, Pending, Terminating, … as the ASG says it. */
  lifecycle: string;
  /** Healthy | Unhealthy: the ASG's own verdict (ELB health checks feed it). */
  asgHealth: string;
  /** healthy, initial, unhealthy, draining, unused, unavailable, or "not registered". */
  target: string;
  /** The ALB's reason for a target that is not healthy, e.g. Target.ResponseCodeMismatch. */
  reason?: string;
  launchTemplateVersion?: string;
}

export interface ReplicaReport {
  stack: string;
  autoScalingGroup: string;
  targetGroupArn: string;
  min: number;
  max: number;
  desired: number;
  /** Replicas the ALB sends requests to. */
  healthy: number;
  replicas: Replica[];
}

/** Narrows a stack's outputs to the group and target group; a single-host stack has neither (pure). */
export function scaleStackOf(outputs: Record<string, unknown>, stack: string): ScaleStack {
  const group = str(outputs[REPLICA_OUTPUTS.group]);
  const targetGroup = str(outputs[REPLICA_OUTPUTS.targetGroup]);
  if (!group || !targetGroup) {
    const missing = [!group && REPLICA_OUTPUTS.group, !targetGroup && REPLICA_OUTPUTS.targetGroup].filter(
      Boolean,
    );
    throw new OdapiError(
      `stack ${stack} has no ${missing.join(" or ")} output: it is not a scale stack, or not deployed yet`,
      `run \`pulumi up -s ${stack}\` for a scale stack; a single-host stack's status needs --host (or its own --stack mode)`,
      "config",
    );
  }
  return { stack, autoScalingGroup: group, targetGroupArn: targetGroup };
}

/** Joins the group's instances with their target health, sorted by zone and id (pure). */
export function replicaReportOf(
  s: ScaleStack,
  group: AutoScalingGroup,
  health: TargetHealthDescription[],
): ReplicaReport {
  const byId = new Map(health.map((h) => [h.Target?.Id ?? "", h.TargetHealth]));
  const replicas = (group.Instances ?? [])
    .map((i): Replica => {
      const id = i.InstanceId ?? "";
      const th = byId.get(id);
      return {
        instanceId: id,
        availabilityZone: i.AvailabilityZone ?? "",
        ...(i.InstanceType ? { instanceType: i.InstanceType } : {}),
        lifecycle: i.LifecycleState ?? "",
        asgHealth: i.HealthStatus ?? "",
        target: th?.State ?? "not registered",
        ...(th?.Reason ? { reason: th.Reason } : {}),
        ...(i.LaunchTemplate?.Version ? { launchTemplateVersion: i.LaunchTemplate.Version } : {}),
      };
    })
    .sort(
      (a, b) =>
        a.availabilityZone.localeCompare(b.availabilityZone) || a.instanceId.localeCompare(b.instanceId),
    );
  return {
    stack: s.stack,
    autoScalingGroup: s.autoScalingGroup,
    targetGroupArn: s.targetGroupArn,
    min: group.MinSize ?? 0,
    max: group.MaxSize ?? 0,
    desired: group.DesiredCapacity ?? 0,
    healthy: replicas.filter((r) => r.target === "healthy").length,
    replicas,
  };
}

/** An OdapiError naming what could not be read and the usual fixes (and AWS_ENDPOINT_URL, when set, as where). */
export function replicasError(err: unknown, what: string): OdapiError {
  if (err instanceof OdapiError) return err;
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const common = commonAwsError(err, {
    service: "AWS",
    at: `AWS to read ${what}${endpoint ? ` at ${endpoint}` : ""}`,
    ...(endpoint ? { endpoint } : {}),
    aftermath: "status only reads, nothing was changed",
    rerun: "status only reads",
  });
  if (common) return common;
  const e = (err ?? {}) as SdkErrorLike;
  return new OdapiError(
    `cannot read ${what}: ${e.name ?? "error"}: ${e.message ?? String(err)}`,
    "check the region (AWS_REGION = the stack's) and that the stack is deployed (pulumi stack output)",
    "failure",
    { cause: err },
  );
}

/** Asks AWS for the group and its targets' health. */
export async function describeReplicas(s: ScaleStack): Promise<ReplicaReport> {
  quietSdkNodeNotice();
  const asg = new AutoScalingClient({ maxAttempts: AWS_MAX_ATTEMPTS });
  const elb = new ElasticLoadBalancingV2Client({ maxAttempts: AWS_MAX_ATTEMPTS });
  try {
    const groupWhat = `Auto Scaling group ${s.autoScalingGroup}`;
    const groups = await asg
      .send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [s.autoScalingGroup] }))
      .catch((err) => {
        throw replicasError(err, groupWhat);
      });
    const group = groups.AutoScalingGroups?.[0];
    if (!group)
      throw new OdapiError(
        `${groupWhat} does not exist (in ${await asg.config.region()})`,
        `set AWS_REGION to the stack's region, or run \`pulumi up -s ${s.stack}\` if it was deleted`,
        "notFound",
      );
    const health = await elb
      .send(new DescribeTargetHealthCommand({ TargetGroupArn: s.targetGroupArn }))
      .catch((err) => {
        throw replicasError(err, `target group ${s.targetGroupArn}`);
      });
    return replicaReportOf(s, group, health.TargetHealthDescriptions ?? []);
  } finally {
    asg.destroy();
    elb.destroy();
  }
}
