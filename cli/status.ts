// `odapi status`: the serving containers on the host and each deployed model's state, through an SSH tunnel.
import Table from "cli-table3";
import type { CommandModule } from "yargs";
import { DEPLOY_RECORD, type DeployRecord, parseDeployRecord } from "../bootstrap/deploy/plan";
import { assessStatus } from "../bootstrap/deploy/wait-ready";
import type { SshSession } from "../bootstrap/ssh/session";
import { getModelStatus } from "../client/api";
import type * as Stack from "../client/stack";
import { isOdapiError, OdapiError } from "../common/errors";
import { PROJECT_ROOT } from "../common/paths";
import { checkRemoteDir } from "../common/remote-dir";
import { CONTAINERS } from "../serving";
import {
  type ConnectionArgs,
  SSH_EXIT_CODES,
  withConnectionOptions,
  withSession,
} from "./connection-options";
import { exitCodeHelp } from "./exit-codes";
import { dockerFailure } from "./remote-docker";
import type * as Replicas from "./status-replicas";
import type * as StackMode from "./status-stack";

export interface ContainerInfo {
  name: string;
  image: string;
  state: string;
  status: string;
}

export interface ModelInfo {
  name: string;
  state: string; // AVAILABLE | LOADING | … | unreachable
  versions: string[];
  detail?: string;
}

export interface StatusReport {
  host: string;
  remoteDir: string;
  deployed: boolean;
  containers: ContainerInfo[];
  models: ModelInfo[];
  publicPort?: number;
}

/** Lists our containers (running or not), one JSON object per line. Pure. */
export function dockerPsArgv(): string[] {
  return ["docker", "ps", "--all", "--no-trunc", "--filter", "name=^odapi-", "--format", "{{json .}}"];
}

/** Parses `docker ps --format '{{json .}}'` lines; keeps only the project's containers. Pure. */
export function parseDockerPs(stdout: string): ContainerInfo[] {
  const ours: string[] = Object.values(CONTAINERS);
  return stdout
    .split("\n")
    .filter((l) => l.trim().startsWith("{"))
    .map((l) => JSON.parse(l) as { Names?: string; Image?: string; State?: string; Status?: string })
    .map((c) => ({ name: c.Names ?? "", image: c.Image ?? "", state: c.State ?? "", status: c.Status ?? "" }))
    .filter((c) => ours.includes(c.name))
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function containers(session: SshSession): Promise<ContainerInfo[]> {
  const argv = dockerPsArgv();
  const res = await session.exec(argv, { sudo: true, timeoutMs: 30_000 });
  const failure = dockerFailure(argv, res, session.target);
  if (failure) throw failure;
  return parseDockerPs(res.stdout);
}

async function modelStates(session: SshSession, record: DeployRecord): Promise<ModelInfo[]> {
  const tunnel = await session.forwardPort(record.internalRestPort);
  try {
    const base = `http://127.0.0.1:${tunnel.localPort}`;
    const out: ModelInfo[] = [];
    for (const name of record.models) {
      try {
        const status = await getModelStatus(base, name, { timeoutMs: 5000 });
        const a = assessStatus(status);
        const versions = (status.model_version_status ?? []).map((v) => v.version);
        out.push(
          a.kind === "available"
            ? { name, state: "AVAILABLE", versions: a.versions }
            : a.kind === "failed"
              ? { name, state: "FAILED", versions, detail: a.message }
              : { name, state: "LOADING", versions, detail: a.detail },
        );
      } catch (err) {
        out.push({
          name,
          state: "unreachable",
          versions: [],
          detail: isOdapiError(err) ? err.message : String(err),
        });
      }
    }
    return out;
  } finally {
    await tunnel.close();
  }
}

export async function collectStatus(session: SshSession, remoteDir: string): Promise<StatusReport> {
  const dir = checkRemoteDir(remoteDir);
  const rec = await session.exec(["cat", `${dir}/${DEPLOY_RECORD}`]);
  const record = rec.code === 0 ? parseDeployRecord(rec.stdout) : undefined;
  const found = await containers(session);
  return {
    host: session.target.host,
    remoteDir: dir,
    deployed: Boolean(record),
    containers: found,
    models: record ? await modelStates(session, record) : [],
    ...(record ? { publicPort: record.publicPort } : {}),
  };
}

/** Human-readable status (pure). */
export function formatStatus(r: StatusReport): string {
  const lines: string[] = [];
  if (!r.deployed) lines.push(`nothing deployed in ${r.host}:${r.remoteDir} (no ${DEPLOY_RECORD})`);
  const ct = new Table({ head: ["container", "image", "state", "status"] });
  for (const c of r.containers) ct.push([c.name, c.image, c.state, c.status]);
  lines.push(r.containers.length ? ct.toString() : "no odapi containers on the host");
  if (r.models.length) {
    const mt = new Table({ head: ["model", "state", "versions", "detail"] });
    for (const m of r.models) mt.push([m.name, m.state, m.versions.join(", "), m.detail ?? ""]);
    lines.push(mt.toString());
  }
  if (r.publicPort) lines.push(`REST API: http://${r.host}:${r.publicPort}/v1/models/<model>`);
  return lines.join("\n");
}

interface StatusArgs extends ConnectionArgs {
  stack?: string;
}

/** Host mode needs the connection flags; --stack replaces them (pure). */
export function checkStatusArgs(args: Partial<StatusArgs>): true {
  if (args.stack) {
    const extra = (["host", "user", "remote-dir"] as const).filter((k) => args[k] !== undefined);
    if (extra.length)
      throw new OdapiError(
        `--stack cannot be combined with ${extra.map((k) => `--${k}`).join(", ")}`,
        "pass --stack S for a Pulumi stack's instance, or --host/--user/--remote-dir for a host",
        "usage",
      );
    return true;
  }
  const missing = (["host", "user", "remote-dir"] as const).filter((k) => args[k] === undefined);
  if (missing.length)
    throw new OdapiError(
      `missing ${missing.map((k) => `--${k}`).join(", ")}`,
      "pass --host, --user and --remote-dir for a host, or --stack S for a Pulumi stack's EC2 instance",
      "usage",
    );
  return true;
}

/** Host mode: containers and model states over SSH. */
async function hostStatus(args: ConnectionArgs): Promise<void> {
  const report = await withSession(args, (s) => collectStatus(s, args["remote-dir"]));
  process.stdout.write(args.json ? `${JSON.stringify(report)}\n` : `${formatStatus(report)}\n`);
}

/**
 * Stack mode: a scale stack's replicas and their target health (cli/status-replicas.ts), or the EC2 instance of a
 * cpu/gpu stack, its cost and its idle auto-stop (cli/status-stack.ts), chosen by the stack's outputs.
 */
async function stackStatus(stack: string, json: boolean): Promise<void> {
  // Loaded only here: host mode never pays for the AWS SDK (literal requires, as in commands.ts).
  const { readStackOutputs } = require("../client/stack") as typeof Stack;
  const outputs = await readStackOutputs(stack, PROJECT_ROOT);
  if (outputs.autoScalingGroup !== undefined) {
    const { collectReplicaStatus, formatReplicaStatus } = require("./status-replicas") as typeof Replicas;
    const report = await collectReplicaStatus(outputs, stack);
    process.stdout.write(json ? `${JSON.stringify(report)}\n` : `${formatReplicaStatus(report)}\n`);
    return;
  }
  const { collectStackStatus, formatStackStatus } = require("./status-stack") as typeof StackMode;
  const report = await collectStackStatus(outputs, stack);
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : `${formatStackStatus(report)}\n`);
}

export const statusCommand: CommandModule<object, StatusArgs> = {
  command: "status",
  builder: (y) =>
    withConnectionOptions(y, { demand: false })
      .option("stack", {
        type: "string",
        describe:
          "Pulumi stack instead of --host: cpu/gpu → its EC2 instance's state, uptime, idle auto-stop, hourly price and cost since start; scale → its replicas (Auto Scaling group instances) and their health in the ALB target group",
      })
      .check(checkStatusArgs)
      .example(
        "$0 status --host 203.0.113.7 --user ubuntu --key k.pem --remote-dir /opt/odapi",
        "Containers and model states",
      )
      .example(
        "$0 status --stack gpu",
        "Running or stopped, uptime, idle auto-stop, $/h and cost since start",
      )
      .example("$0 status --stack scale", "Replicas, their zone, lifecycle and ALB target health")
      .epilogue(
        exitCodeHelp([...SSH_EXIT_CODES, "notFound", "missingTool"], {
          notFound: "--stack: the instance or the Auto Scaling group not found",
        }),
      ) as never,
  handler: async (args) => {
    if (args.stack) await stackStatus(args.stack, args.json);
    else await hostStatus(args);
  },
};
