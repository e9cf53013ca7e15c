// The scale stack's decisions (pure): names, numbers, policies and command lines, tested without Pulumi or AWS.
import { shellJoin } from "../../common/shell";
import { ODAPI_ENTRY } from "../deploy-command";

/** Key prefix the stack publishes under and the replicas (and their role) read. */
export const MODELS_PREFIX = "odapi";
/**
 * Seconds a new instance is spared the load balancer's verdict: a first boot installs Docker, pulls the TF Serving
 * image (≈ 0.5 GB), syncs the models and loads them (retinanet takes minutes on 2 vCPU). 15 min covers it.
 */
export const HEALTH_CHECK_GRACE_SECONDS = 900;
/** How long `pulumi up` waits for a detection through the load balancer before it fails. */
export const READY_WAIT_SECONDS = 1800;
/** Instance refresh keeps half the group serving while it replaces the rest. */
export const MIN_HEALTHY_PERCENT = 50;
/** TLS 1.3 and 1.2 with forward secrecy only (AWS's recommended ALB policy). */
export const ALB_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/** Seconds target tracking waits before a new instance's metrics count: about a first boot's length. */
export const INSTANCE_WARMUP_SECONDS = 600;

export interface ListenerPlan {
  protocol: "HTTPS" | "HTTP";
  port: 443 | 80;
}

export function listenerPlan(httpListener: boolean): ListenerPlan {
  return httpListener ? { protocol: "HTTP", port: 80 } : { protocol: "HTTPS", port: 443 };
}

/**
 * Learner Lab with the generated certificate: whether the lab lets ACM import it is unverified, so the way out is
 * said before the import is tried, beside Pulumi's own error if AWS refuses it (pure).
 */
export function acmImportNote(c: {
  learnerLab: boolean;
  httpListener: boolean;
  acmCertificateArn?: string;
}): string | undefined {
  if (!c.learnerLab || c.httpListener || c.acmCertificateArn) return undefined;
  return "Learner Lab: the stack imports its generated certificate into ACM (resource *-lb-acm), which the lab may refuse. If `pulumi up` fails there (AccessDenied / not authorized for acm:ImportCertificate): pulumi config set odapi:acmCertificateArn <an ACM certificate ARN you may use>, or opt out to plain HTTP with pulumi config set odapi:httpListener true (the API key then crosses the network in clear text)";
}

/** The API's base URL on the load balancer's DNS name. */
export function albUrl(dnsName: string, listener: ListenerPlan): string {
  return `${listener.protocol.toLowerCase()}://${dnsName}`;
}

const LB_SUFFIX = /^app\/[^/]+\/[^/]+$/;
const TG_SUFFIX = /^targetgroup\/[^/]+\/[^/]+$/;

/** ALBRequestCountPerTarget's resource label: app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>. */
export function requestCountResourceLabel(lbArnSuffix: string, tgArnSuffix: string): string {
  if (!LB_SUFFIX.test(lbArnSuffix) || !TG_SUFFIX.test(tgArnSuffix)) {
    throw new Error(
      `requestCountResourceLabel: expected app/<name>/<id> and targetgroup/<name>/<id>, got ${lbArnSuffix} and ${tgArnSuffix}`,
    );
  }
  return `${lbArnSuffix}/${tgArnSuffix}`;
}

export interface ScheduledAction {
  name: string;
  recurrence: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
}

/** The cost guard: to zero at one time, back to minReplicas at another; none unless both crons are set. */
export function scheduledActions(c: {
  scaleToZeroCron?: string;
  scaleUpCron?: string;
  minReplicas: number;
  maxReplicas: number;
}): ScheduledAction[] {
  if (!c.scaleToZeroCron || !c.scaleUpCron) return [];
  return [
    { name: "scale-to-zero", recurrence: c.scaleToZeroCron, minSize: 0, maxSize: 0, desiredCapacity: 0 },
    {
      name: "scale-up",
      recurrence: c.scaleUpCron,
      minSize: c.minReplicas,
      maxSize: c.maxReplicas,
      desiredCapacity: c.minReplicas,
    },
  ];
}

/** Bucket policy: every request without TLS is refused, whoever sends it. */
export function tlsOnlyBucketPolicy(bucketArn: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucketArn, `${bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ],
  });
}

/** The replicas' own role (outside Learner Lab): list and read the model prefix, nothing else. */
export function modelsReadPolicy(bucketArn: string, prefix: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ListModelPrefix",
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: bucketArn,
        Condition: { StringLike: { "s3:prefix": [`${prefix}/*`] } },
      },
      { Sid: "ReadModels", Effect: "Allow", Action: "s3:GetObject", Resource: `${bucketArn}/${prefix}/*` },
    ],
  });
}

export const EC2_ASSUME_ROLE_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

export interface PublishPlan {
  bucket: string;
  /** Catalog models prepared on this machine first (`odapi prepare`), into preparedDir. */
  catalog: string[];
  version: number;
  /** Where the catalog models are prepared (the stack's own dir: publish sends the whole dir). */
  preparedDir: string;
  /** The user's own prepared models (odapi:localModelsDir). */
  localModelsDir?: string;
  prune: boolean;
}

/** `odapi prepare` (catalog models, kept when already prepared) then `odapi publish` per models dir, as one line. */
export function publishCommandLine(p: PublishPlan): string {
  const odapi = ["node", ODAPI_ENTRY];
  const steps: string[][] = [];
  if (p.catalog.length) {
    steps.push([
      ...odapi,
      "prepare",
      ...p.catalog.flatMap((m) => ["--catalog", m]),
      "--out",
      p.preparedDir,
      "--version",
      String(p.version),
      "--if-exists",
      "skip",
      "--json",
    ]);
  }
  const dirs = [
    ...(p.catalog.length ? [p.preparedDir] : []),
    ...(p.localModelsDir ? [p.localModelsDir] : []),
  ];
  for (const dir of dirs) {
    const publish = [...odapi, "publish", "--bucket", p.bucket, "--prefix", MODELS_PREFIX, "--models", dir];
    if (p.prune) publish.push("--prune");
    steps.push([...publish, "--json"]);
  }
  return steps.map(shellJoin).join(" && ");
}

/** Environment variable holding the CA certificate (PEM) for the readiness command; not a secret. */
export const CA_ENV = "ODAPI_CA_PEM";

/**
 * The readiness proof through the load balancer: `odapi detect --wait` (every model AVAILABLE, then a detection per
 * model). Node trusts the stack's CA through NODE_EXTRA_CA_CERTS, which must name a file: a temporary one.
 */
export function readinessCommandLine(url: string, models: string[], withCa: boolean): string {
  const detect = shellJoin([
    "node",
    ODAPI_ENTRY,
    "detect",
    "--url",
    url,
    ...models.flatMap((m) => ["--model", m]),
    "--wait",
    String(READY_WAIT_SECONDS),
    "--json",
  ]);
  if (!withCa) return detect;
  return `ca=$(mktemp) && printf '%s\\n' "$${CA_ENV}" >"$ca" && NODE_EXTRA_CA_CERTS="$ca" ${detect}; rc=$?; rm -f "$ca"; exit $rc`;
}
