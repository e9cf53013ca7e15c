// The replicas: a launch template (the AMI of the single-host stacks, IMDSv2 with one hop, encrypted gp3, the
// rendered replica user data gzipped) and an Auto Scaling group over the default VPC's AZs behind the target group:
// ELB health checks, instance refresh on template changes, target tracking on requests per target, and the cost
// guard's scheduled actions.
import { gzipSync } from "node:zlib";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { METADATA_OPTIONS } from "../host";
import {
  HEALTH_CHECK_GRACE_SECONDS,
  INSTANCE_WARMUP_SECONDS,
  MIN_HEALTHY_PERCENT,
  type ScheduledAction,
} from "./plan";

export interface ReplicaGroupArgs {
  instanceType: string;
  amiId: string;
  /** The AMI's root device (Ubuntu and the DLAMI: /dev/sda1). */
  rootDeviceName?: string;
  rootVolumeGb: number;
  /** The replica user data script (a secret: the gateway config in it holds the API key). */
  userData: pulumi.Output<string>;
  securityGroupId: pulumi.Input<string>;
  instanceProfile: pulumi.Input<string>;
  keyName?: string;
  subnetIds: string[];
  targetGroupArn: pulumi.Input<string>;
  resourceLabel: pulumi.Input<string>;
  minReplicas: number;
  maxReplicas: number;
  targetRequestsPerReplica: number;
  warmPool: boolean;
  schedules: ScheduledAction[];
  /** What must exist before the first replica boots (the published models). */
  after: pulumi.Resource[];
  tags: Record<string, string>;
}

/** EC2 takes user data base64-encoded, at most 16 KB before encoding; cloud-init unpacks gzip by itself. */
export function encodeUserData(script: string): string {
  return gzipSync(Buffer.from(script, "utf8"), { level: 9 }).toString("base64");
}

export class ReplicaGroup extends pulumi.ComponentResource {
  readonly groupName: pulumi.Output<string>;
  readonly launchTemplateId: pulumi.Output<string>;
  /** The template version the group runs (changes with every template change). */
  readonly launchTemplateVersion: pulumi.Output<string>;

  constructor(name: string, args: ReplicaGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("odapi:infra:ReplicaGroup", name, {}, opts);
    const template = new aws.ec2.LaunchTemplate(
      `${name}-template`,
      {
        imageId: args.amiId,
        instanceType: args.instanceType,
        keyName: args.keyName,
        vpcSecurityGroupIds: [args.securityGroupId],
        iamInstanceProfile: { name: args.instanceProfile },
        userData: pulumi.secret(args.userData.apply(encodeUserData)),
        metadataOptions: { ...METADATA_OPTIONS },
        blockDeviceMappings: [
          {
            deviceName: args.rootDeviceName ?? "/dev/sda1",
            ebs: {
              volumeType: "gp3",
              volumeSize: args.rootVolumeGb,
              encrypted: "true",
              deleteOnTermination: "true",
            },
          },
        ],
        tagSpecifications: [
          { resourceType: "instance", tags: { ...args.tags, Name: `${name}-replica` } },
          { resourceType: "volume", tags: { ...args.tags, Name: `${name}-replica-root` } },
        ],
        updateDefaultVersion: true,
        tags: args.tags,
      },
      { parent: this },
    );
    const group = new aws.autoscaling.Group(
      `${name}-asg`,
      {
        vpcZoneIdentifiers: args.subnetIds,
        minSize: args.minReplicas,
        maxSize: args.maxReplicas,
        // Only the first up sets it: later ups leave what scaling chose (ignoreChanges below).
        desiredCapacity: args.minReplicas,
        // Instance refresh does not start on $Latest: pin the number of the template's newest version.
        launchTemplate: { id: template.id, version: template.latestVersion.apply(String) },
        targetGroupArns: [args.targetGroupArn],
        healthCheckType: "ELB",
        healthCheckGracePeriod: HEALTH_CHECK_GRACE_SECONDS,
        // pulumi up proves readiness with a real detection through the load balancer instead.
        waitForCapacityTimeout: "0",
        instanceRefresh: {
          strategy: "Rolling",
          preferences: {
            minHealthyPercentage: MIN_HEALTHY_PERCENT,
            instanceWarmup: String(INSTANCE_WARMUP_SECONDS),
          },
        },
        warmPool: args.warmPool ? { poolState: "Stopped", minSize: 1 } : undefined,
        tags: Object.entries({ ...args.tags, Name: `${name}-replica` }).map(([key, value]) => ({
          key,
          value,
          propagateAtLaunch: true,
        })),
      },
      { parent: this, ignoreChanges: ["desiredCapacity"], dependsOn: args.after },
    );
    new aws.autoscaling.Policy(
      `${name}-requests-per-replica`,
      {
        autoscalingGroupName: group.name,
        policyType: "TargetTrackingScaling",
        estimatedInstanceWarmup: INSTANCE_WARMUP_SECONDS,
        targetTrackingConfiguration: {
          predefinedMetricSpecification: {
            predefinedMetricType: "ALBRequestCountPerTarget",
            resourceLabel: args.resourceLabel,
          },
          targetValue: args.targetRequestsPerReplica,
        },
      },
      { parent: this },
    );
    for (const s of args.schedules) {
      new aws.autoscaling.Schedule(
        `${name}-${s.name}`,
        {
          autoscalingGroupName: group.name,
          scheduledActionName: s.name,
          recurrence: s.recurrence,
          timeZone: "Etc/UTC",
          minSize: s.minSize,
          maxSize: s.maxSize,
          desiredCapacity: s.desiredCapacity,
        },
        { parent: this },
      );
    }
    this.groupName = group.name;
    this.launchTemplateId = template.id;
    this.launchTemplateVersion = template.latestVersion.apply(String);
    this.registerOutputs({ groupName: this.groupName, launchTemplateId: this.launchTemplateId });
  }
}
