// The EC2 side of a single-host stack's outputs: which instance, where, and its cost-guard settings (pure).

import { missingOutput, type StackTarget, stackTargetOf, stringOutput as str } from "../../client/stack";
import { OdapiError } from "../../common/errors";

export interface StackInstance {
  stack: string;
  instanceId: string;
  /** Absent in stacks deployed before the cost guard: the env's region is used then. */
  region?: string;
  instanceType?: string;
  /** 0 = off; absent in older stacks. */
  idleStopMinutes?: number;
  api: StackTarget;
  /** For reading the idle state over SSH: present when the stack generated the login key. */
  ssh?: { host: string; user: string; privateKey: string; knownHosts: string; remoteDir: string };
}

/** Narrows a stack's outputs to its instance; a stack on your own host or the scale stack has none to act on. */
export function stackInstanceOf(o: Record<string, unknown>, stack: string): StackInstance {
  const id = str(o.instanceId);
  if (!id) throw missingOutput(stack, "instanceId", "then rerun");
  if (!/^i-[0-9a-f]{8,17}$/.test(id)) {
    throw new OdapiError(
      `stack ${stack} has no EC2 instance (instanceId ${id}): it runs on a host odapi does not power`,
      "use `odapi status --host …` for that host; --stack applies to the cpu and gpu stacks",
      "usage",
    );
  }
  const host = str(o.publicIp);
  const user = str(o.sshUser);
  const privateKey = str(o.sshPrivateKey);
  const knownHosts = str(o.knownHosts);
  const remoteDir = str(o.remoteDir);
  return {
    stack,
    instanceId: id,
    ...(str(o.region) ? { region: str(o.region) } : {}),
    ...(str(o.instanceType) ? { instanceType: str(o.instanceType) } : {}),
    ...(Number.isInteger(o.idleStopMinutes) ? { idleStopMinutes: o.idleStopMinutes as number } : {}),
    api: stackTargetOf(o, stack),
    ...(host && user && privateKey && knownHosts && remoteDir
      ? { ssh: { host, user, privateKey, knownHosts, remoteDir } }
      : {}),
  };
}
