// `odapi status --stack S`: the EC2 side of a single-host stack: running or stopped, uptime, the idle auto-stop,
// the hourly price and the estimated cost since the last start. AWS SDK for the instance; no SSH needed.
import { createEc2Client, describeInstance, ec2Where, type InstanceInfo } from "../bootstrap/aws/ec2";
import { idleRuleText } from "../bootstrap/aws/idle-rule";
import { costSince, formatHourly, formatUsd, hourlyPrice, PRICE_SOURCE } from "../bootstrap/aws/prices";
import { type StackInstance, stackInstanceOf } from "../bootstrap/aws/stack-instance";
import { DEPLOY_RECORD, parseDeployRecord } from "../bootstrap/deploy/plan";
import { parseKnownHosts } from "../bootstrap/ssh/known-hosts";
import { connect } from "../bootstrap/ssh/session";
import type { SshTarget } from "../bootstrap/ssh/target";
import { isOdapiError } from "../common/errors";
import { formatDuration } from "../common/format";
import { type IdleVerdict, idleVerdict, parseIdleState } from "../serving";

export interface StackStatus {
  stack: string;
  instanceId: string;
  region: string;
  instanceType: string;
  /** running | stopped | pending | stopping | … as EC2 says it. */
  state: string;
  launchTime?: string;
  /** Seconds since the last start, while running. */
  uptimeSeconds?: number;
  hourlyUsd?: number;
  /** Estimated on-demand instance cost since the last start, while running (disk and IP not included). */
  costSinceLaunchUsd?: number;
  priceSource: typeof PRICE_SOURCE;
  idleStopMinutes?: number;
  /** The host's own idle clock, when it could be read (over SSH, with the stack's generated key). */
  idle?: IdleVerdict;
  /** Why the idle clock is not shown, when it is not. */
  idleNote?: string;
  apiUrl: string;
}

/** The report from the instance as EC2 describes it, at `now` (pure). */
export function stackStatusOf(
  inst: StackInstance,
  info: InstanceInfo,
  now: Date,
  idle?: IdleVerdict | string,
): StackStatus {
  const running = info.state === "running";
  const hourly = hourlyPrice(info.instanceType, info.region);
  const since = running ? info.launchTime : undefined;
  return {
    stack: inst.stack,
    instanceId: inst.instanceId,
    region: info.region,
    instanceType: info.instanceType,
    state: info.state,
    ...(info.launchTime ? { launchTime: info.launchTime.toISOString() } : {}),
    ...(since ? { uptimeSeconds: Math.max(0, Math.round((now.getTime() - since.getTime()) / 1000)) } : {}),
    ...(hourly !== undefined ? { hourlyUsd: hourly } : {}),
    ...(since && hourly !== undefined ? { costSinceLaunchUsd: costSince(since, now, hourly) } : {}),
    priceSource: PRICE_SOURCE,
    ...(inst.idleStopMinutes !== undefined ? { idleStopMinutes: inst.idleStopMinutes } : {}),
    ...(typeof idle === "string" ? { idleNote: idle } : idle ? { idle } : {}),
    apiUrl: inst.api.apiUrl,
  };
}

/** "idle for 12 min, stops in 48 min" and the like (pure). */
export function idleLine(v: IdleVerdict): string {
  switch (v.kind) {
    case "idle":
      return `idle for ${v.idleMinutes} min, stops in ${v.stopsInMinutes} min without a request`;
    case "metrics-down":
      return "idle clock paused: TF Serving's metrics are unavailable (it never stops on missing data)";
    case "waiting-for-models":
      return "idle clock not running yet: waiting for every model to be AVAILABLE";
  }
}

/** Human-readable stack status (pure). */
export function formatStackStatus(s: StackStatus): string {
  const lines = [`stack ${s.stack}: ${s.instanceId} (${s.instanceType}, ${s.region}) is ${s.state}`];
  if (s.uptimeSeconds !== undefined)
    lines.push(`up ${formatDuration(s.uptimeSeconds * 1000)} (since ${s.launchTime})`);
  lines.push(formatHourly(s.instanceType, s.region));
  if (s.costSinceLaunchUsd !== undefined)
    lines.push(
      `estimated cost since this start: ${formatUsd(s.costSinceLaunchUsd)} (instance only; disk and IP extra)`,
    );
  if (s.state === "stopped")
    lines.push(
      `stopped: no instance charge (disk and Elastic IP still bill); odapi start --stack ${s.stack}`,
    );
  lines.push(idleRuleText(s.idleStopMinutes));
  if (s.idle && s.state === "running") lines.push(idleLine(s.idle));
  if (s.idleNote) lines.push(s.idleNote);
  if (s.state === "running") lines.push(`API: ${s.apiUrl}`);
  return lines.join("\n");
}

/** Describes the instance of a stack from its outputs. */
export async function collectStackStatus(
  outputs: Record<string, unknown>,
  stack: string,
): Promise<StackStatus> {
  const inst = stackInstanceOf(outputs, stack);
  const where = ec2Where(process.env, inst.region);
  const ec2 = createEc2Client(where);
  try {
    const info = await describeInstance(ec2, where, inst.instanceId);
    const idle = info.state === "running" && inst.idleStopMinutes ? await readIdle(inst) : undefined;
    return stackStatusOf(inst, info, new Date(), idle);
  } finally {
    ec2.destroy();
  }
}

/** The SSH target in the stack's outputs: host and port from its known_hosts line, that key pinned (pure). */
export function idleSshTarget(ssh: NonNullable<StackInstance["ssh"]>): SshTarget | undefined {
  const entry = parseKnownHosts(ssh.knownHosts)[0];
  if (!entry) return undefined;
  const m = /^\[(.+)\]:(\d+)$/.exec(entry.patterns);
  return {
    host: m ? (m[1] as string) : entry.patterns,
    port: m ? Number(m[2]) : 22,
    user: ssh.user,
    privateKey: ssh.privateKey,
    hostKey: `${entry.type} ${entry.base64}`,
  };
}

/** The host's idle clock over SSH (deploy record → state file); a sentence instead when it cannot be read. */
async function readIdle(inst: StackInstance): Promise<IdleVerdict | string> {
  const target = inst.ssh && idleSshTarget(inst.ssh);
  if (!inst.ssh || !target)
    return "idle clock not read: the stack has no generated SSH key in its outputs (odapi status --host … shows the host)";
  try {
    const session = await connect(target, { deadlineMs: 0, readyTimeoutMs: 10_000 });
    try {
      const rec = await session.exec(["cat", `${inst.ssh.remoteDir}/${DEPLOY_RECORD}`], {
        timeoutMs: 10_000,
      });
      const stateFile = (rec.code === 0 ? parseDeployRecord(rec.stdout) : undefined)?.idleStop?.stateFile;
      if (!stateFile) return "idle clock not read: the last deploy installed no idle auto-stop";
      const st = await session.exec(["cat", stateFile], { timeoutMs: 10_000 });
      // No state yet: the timer has not run since boot (it runs every minute).
      if (st.code !== 0) return { kind: "waiting-for-models" };
      const state = parseIdleState(st.stdout);
      // As of the host's last check (≤ 1 min old): no clock skew between here and there.
      return idleVerdict(state, state.checkedAt ?? 0);
    } finally {
      await session.close();
    }
  } catch (err) {
    return `idle clock not read over SSH: ${isOdapiError(err) ? err.message : String(err)}`;
  }
}
