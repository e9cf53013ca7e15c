// `odapi status --stack scale`: the replicas of the scale stack and their health in the ALB's target group, as a
// table (pure) and as one JSON object; the AWS calls live in bootstrap/aws/replicas.ts.
import Table from "cli-table3";
import { describeReplicas, type ReplicaReport, scaleStackOf } from "../bootstrap/aws/replicas";

/** Asks AWS for the replicas of a scale stack, from its outputs. */
export async function collectReplicaStatus(
  outputs: Record<string, unknown>,
  stack: string,
): Promise<ReplicaReport> {
  return describeReplicas(scaleStackOf(outputs, stack));
}

/** Human-readable replica status (pure). */
export function formatReplicaStatus(r: ReplicaReport): string {
  const head = `stack ${r.stack}: ${r.healthy} of ${r.replicas.length} replicas healthy in the load balancer (group ${r.autoScalingGroup}: min ${r.min}, desired ${r.desired}, max ${r.max})`;
  if (r.replicas.length === 0) return `${head}\nno instances in the group (scaled to zero, or starting)`;
  const t = new Table({
    head: ["instance", "zone", "type", "lifecycle", "ASG health", "target health", "reason"],
  });
  for (const x of r.replicas)
    t.push([
      x.instanceId,
      x.availabilityZone,
      x.instanceType ?? "",
      x.lifecycle,
      x.asgHealth,
      x.target,
      x.reason ?? "",
    ]);
  return `${head}\n${t.toString()}`;
}
