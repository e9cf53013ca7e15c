// The validation rules as one table: key, when it applies, the rule, the fix, and which values break it. Pure.
import { IDLE_STOP_MINUTES, isIdleStopMinutes } from "../../bootstrap/aws/idle-rule";
import { isPlainRemoteDir, REMOTE_DIR_RULE } from "../../common/remote-dir";
import { CATALOG_NAMES, DEFAULT_CATALOG_MODELS } from "../../model-prep/catalog";
import { isWorldCidr, parseCidr } from "../cidrs";
import {
  isArmInstanceType,
  isGpuInstanceType,
  parseInstanceType,
  sizeRankOf,
  vcpusOf,
} from "../instance-type";
import { fullKey } from "./keys";
import {
  LEARNER_LAB_MAX_INSTANCES,
  LEARNER_LAB_MAX_SIZE,
  LEARNER_LAB_MAX_VCPUS,
  LEARNER_LAB_MAX_VOLUME_GB,
  LEARNER_LAB_REGIONS,
  REPLACEMENT_SPARE,
} from "./learner-lab";
import type { ConfigProblem } from "./problems";
import type { ConfigKey, StackConfig } from "./types";

/**
 * Which configs a rule applies to: aws = any AWS target (one instance or scale), ec2 = the one-instance target,
 * scale = the Auto Scaling target, learnerLab = any AWS target in the lab, scaleLab = scale in the lab.
 */
export type When = "always" | "aws" | "ec2" | "scale" | "host" | "learnerLab" | "scaleLab";

type Text = string | ((cfg: StackConfig) => string);

export interface Rule {
  key: ConfigKey | "aws:region";
  when: When;
  rule: Text;
  fix: Text;
  /** The values that break the rule (none: the config keeps it). */
  broken: (cfg: StackConfig) => unknown[];
}

const AMI_ID = /^ami-[0-9a-f]{8,17}$/;
const HOST_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( .*)?$/;
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6_LITERAL = /^[0-9A-Fa-f:.]+$/;
const SSH_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const AZ = /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/;
/** Unix cron, five fields (what EC2 Auto Scaling's scheduled actions take as recurrence). */
const CRON = /^\S+( \S+){4}$/;
const CRON_FIELD = /^[0-9A-Za-z*/,?-]+$/;
const ACM_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;

const isCron = (text: string) => CRON.test(text) && text.split(" ").every((f) => CRON_FIELD.test(f));
/** The most instances the group can run at once: maxReplicas plus the one spare AZ rebalancing may launch first. */
const peakInstances = (cfg: StackConfig) => cfg.maxReplicas + REPLACEMENT_SPARE;

const PRIVATE_KEY_FIX =
  "pulumi config set --secret odapi:sshPrivateKey < ~/Downloads/labsuser.pem   (the key file of that key pair / host)";

/** [value] when the condition holds, else none. */
const ifBad = (condition: unknown, value: unknown): unknown[] => (condition ? [value] : []);

/** The instance type, decoded once per rule (undefined: not an EC2 type). */
const typeOf = (cfg: StackConfig) => parseInstanceType(cfg.instanceType);
/** An x86_64 instance type: the ARM rule reports the others. */
const isX86 = (cfg: StackConfig) => typeOf(cfg) !== undefined && !isArmInstanceType(cfg.instanceType);

function cidrRules(
  key: "allowedCidrs" | "apiCidrs",
  worldRule: string,
  worldOk: (cfg: StackConfig) => boolean,
) {
  return [
    {
      key,
      when: "always",
      rule: "is not a CIDR block",
      fix: `use addresses like 203.0.113.7/32 or 2001:db8::/64 in ${fullKey(key)}`,
      broken: (cfg) => cfg[key].filter((c) => !parseCidr(c)),
    },
    {
      key,
      when: "always",
      rule: worldRule,
      fix: `list your own address or network instead (e.g. 203.0.113.7/32), or leave ${fullKey(key)} empty to use this machine's public IP`,
      broken: (cfg) => (worldOk(cfg) ? [] : cfg[key].filter((c) => parseCidr(c) && isWorldCidr(c))),
    },
  ] satisfies Rule[];
}

/** A key that means something for one target only: set for the other, it is a mistake. */
function onlyFor(target: "aws" | "host", keys: ConfigKey[]): Rule[] {
  return keys.map((key) => ({
    key,
    when: target === "aws" ? "host" : "aws",
    rule: `applies only to target '${target}'`,
    fix: `pulumi config rm ${fullKey(key)}`,
    broken: (cfg) => ifBad(cfg[key as keyof StackConfig], cfg[key as keyof StackConfig]),
  }));
}

/** In the order they are reported: every target, then the target's own rules, then Learner Lab's. */
export const RULES: readonly Rule[] = [
  // ---- every target ----
  {
    key: "models",
    when: "always",
    rule: "no model to serve: models is empty and localModelsDir is not set",
    fix: `pulumi config set --path 'odapi:models[0]' ${DEFAULT_CATALOG_MODELS[0]}   (or set odapi:localModelsDir)`,
    broken: (cfg) => ifBad(cfg.models.length === 0 && !cfg.localModelsDir, cfg.models),
  },
  {
    key: "models",
    when: "always",
    rule: "is not a catalog model",
    fix: `use one of: ${CATALOG_NAMES.join(", ")}`,
    broken: (cfg) => cfg.models.filter((m) => !CATALOG_NAMES.includes(m)),
  },
  {
    key: "models",
    when: "always",
    rule: "lists a model twice",
    fix: "list each catalog model once",
    broken: (cfg) => ifBad(new Set(cfg.models).size !== cfg.models.length, cfg.models),
  },
  {
    key: "modelVersion",
    when: "always",
    rule: "must be ≥ 1",
    fix: "pulumi config set odapi:modelVersion 1",
    broken: (cfg) => ifBad(!Number.isInteger(cfg.modelVersion) || cfg.modelVersion < 1, cfg.modelVersion),
  },
  {
    key: "remoteDir",
    when: "always",
    rule: REMOTE_DIR_RULE,
    fix: "pulumi config set odapi:remoteDir /opt/odapi",
    broken: (cfg) => ifBad(!isPlainRemoteDir(cfg.remoteDir), cfg.remoteDir),
  },
  {
    key: "sshUser",
    when: "always",
    rule: "is not a valid login name",
    fix: "pulumi config set odapi:sshUser ubuntu",
    broken: (cfg) => ifBad(!SSH_USER.test(cfg.sshUser), cfg.sshUser),
  },
  {
    key: "sshWaitMinutes",
    when: "always",
    rule: "must be 1…120",
    fix: "pulumi config set odapi:sshWaitMinutes 15",
    broken: (cfg) =>
      ifBad(
        !Number.isInteger(cfg.sshWaitMinutes) || cfg.sshWaitMinutes < 1 || cfg.sshWaitMinutes > 120,
        cfg.sshWaitMinutes,
      ),
  },
  {
    key: "idleStopMinutes",
    when: "always",
    rule: `must be 0 (off) or ${IDLE_STOP_MINUTES.min}…${IDLE_STOP_MINUTES.max} (a week)`,
    fix: "pulumi config set odapi:idleStopMinutes 60   (0 turns the idle auto-stop off)",
    broken: (cfg) => ifBad(!isIdleStopMinutes(cfg.idleStopMinutes), cfg.idleStopMinutes),
  },
  ...cidrRules(
    "allowedCidrs",
    "opens SSH (port 22) to the whole internet, which this project never does",
    () => false,
  ),
  ...cidrRules(
    "apiCidrs",
    "opens the REST API to the whole internet without an API key",
    (cfg) => cfg.requireApiKey,
  ),
  {
    key: "hostKey",
    when: "always",
    rule: "is not an SSH public host key",
    fix: "copy one line of `ssh-keyscan -t ed25519 <host>` without the host name: 'ssh-ed25519 AAAA…'",
    broken: (cfg) => ifBad(cfg.hostKey && !HOST_KEY.test(cfg.hostKey), cfg.hostKey),
  },

  // ---- HTTPS: the stack's private CA, or your own certificate ----
  {
    key: "domain",
    when: "always",
    rule: "is not a DNS name",
    fix: "use the name whose A record points at the API, e.g. api.example.org (or pulumi config rm odapi:domain)",
    broken: ({ domain: d }) => ifBad(d && (!HOSTNAME.test(d) || /^[0-9.]+$/.test(d)), d),
  },
  {
    key: "tlsKey",
    when: "always",
    rule: "is needed with odapi:tlsCert (and the other way round)",
    fix: "pulumi config set --secret odapi:tlsKey < privkey.pem   (or pulumi config rm odapi:tlsCert to use the stack's own CA)",
    broken: (cfg) => ifBad(cfg.hasTlsCert !== cfg.hasTlsKey, cfg.hasTlsKey ? "(set)" : ""),
  },
  {
    key: "tlsCert",
    when: "always",
    rule: "is served by the API-key gateway, which odapi:requireApiKey false turns off",
    fix: "pulumi config set odapi:requireApiKey true   (or pulumi config rm odapi:tlsCert odapi:tlsKey)",
    broken: (cfg) => ifBad(cfg.hasTlsCert && !cfg.requireApiKey, "(set)"),
  },

  // ---- target 'host': an existing server ----
  {
    key: "sshHost",
    when: "host",
    rule: "is required for target 'host'",
    fix: "pulumi config set odapi:sshHost <server address>",
    broken: (cfg) => ifBad(!cfg.sshHost, ""),
  },
  {
    key: "sshHost",
    when: "host",
    rule: "is not a host name or IP address",
    fix: "use e.g. 192.0.2.10 or srv.example.com",
    broken: ({ sshHost: h }) =>
      ifBad(h && !HOSTNAME.test(h) && !(h.includes(":") && IPV6_LITERAL.test(h)), h),
  },
  {
    key: "sshPort",
    when: "host",
    rule: "is not a TCP port",
    fix: "pulumi config set odapi:sshPort 22",
    broken: (cfg) =>
      ifBad(!Number.isInteger(cfg.sshPort) || cfg.sshPort < 1 || cfg.sshPort > 65535, cfg.sshPort),
  },
  {
    key: "sshPrivateKey",
    when: "host",
    rule: "is required for target 'host' (the key that logs in as sshUser)",
    fix: PRIVATE_KEY_FIX,
    broken: (cfg) => ifBad(!cfg.hasSshPrivateKey, ""),
  },
  ...onlyFor("aws", ["amiId", "availabilityZone", "keyName", "instanceProfile", "idleStopMinutes"]),
  {
    key: "learnerLab",
    when: "host",
    rule: "applies only to target 'aws'",
    fix: "pulumi config set odapi:learnerLab false",
    broken: (cfg) => ifBad(cfg.learnerLab, true),
  },

  // ---- target 'aws', any account ----
  {
    key: "instanceType",
    when: "aws",
    rule: "is not an EC2 instance type",
    fix: "use e.g. t3.large or g4dn.xlarge",
    broken: (cfg) => ifBad(!typeOf(cfg), cfg.instanceType),
  },
  {
    key: "instanceType",
    when: "aws",
    rule: "is an ARM (Graviton) type; the TensorFlow Serving images are x86_64 only",
    fix: "use an x86_64 type, e.g. t3.large (cpu) or g4dn.xlarge (gpu)",
    broken: (cfg) => ifBad(typeOf(cfg) && isArmInstanceType(cfg.instanceType), cfg.instanceType),
  },
  {
    key: "instanceType",
    when: "aws",
    rule: "has no NVIDIA GPU but odapi:gpu is true",
    fix: "use a GPU type such as g4dn.xlarge, or pulumi config set odapi:gpu false",
    broken: (cfg) => ifBad(isX86(cfg) && cfg.gpu && !isGpuInstanceType(cfg.instanceType), cfg.instanceType),
  },
  {
    key: "gpu",
    when: "aws",
    rule: (cfg) =>
      `is false but ${cfg.instanceType} is a GPU instance (you would pay for a GPU the CPU image never uses)`,
    fix: "pulumi config set odapi:gpu true   (or pick a CPU type such as t3.large)",
    broken: (cfg) => ifBad(isX86(cfg) && !cfg.gpu && isGpuInstanceType(cfg.instanceType), false),
  },
  {
    key: "amiId",
    when: "aws",
    rule: "is not an AMI id",
    fix: "use ami-0123456789abcdef0 or leave it empty",
    broken: (cfg) => ifBad(cfg.amiId && !AMI_ID.test(cfg.amiId), cfg.amiId),
  },
  {
    key: "availabilityZone",
    when: "aws",
    rule: "is not an availability zone",
    fix: "use e.g. us-east-1a or leave it empty",
    broken: (cfg) => ifBad(cfg.availabilityZone && !AZ.test(cfg.availabilityZone), cfg.availabilityZone),
  },
  {
    key: "volumeSizeGb",
    when: "aws",
    rule: "must be 8…16384 GB (or 0 for automatic)",
    fix: "pulumi config set odapi:volumeSizeGb 0",
    broken: ({ volumeSizeGb: gb }) => ifBad(gb !== undefined && (gb < 8 || gb > 16384), gb),
  },
  {
    key: "sshPrivateKey",
    when: "ec2",
    rule: (cfg) =>
      `is required with odapi:keyName (${cfg.keyName}): the deployer logs in with that key pair's private key`,
    fix: PRIVATE_KEY_FIX,
    broken: (cfg) => ifBad(cfg.keyName && !cfg.hasSshPrivateKey, ""),
  },
  {
    key: "keyName",
    when: "ec2",
    rule: "is empty but odapi:sshPrivateKey is set: name the EC2 key pair that private key belongs to",
    fix: "pulumi config set odapi:keyName vockey   (or pulumi config rm odapi:sshPrivateKey to generate a key)",
    broken: (cfg) => ifBad(!cfg.keyName && cfg.hasSshPrivateKey, ""),
  },
  // ---- target 'scale': Auto Scaling group behind an ALB ----
  {
    key: "idleStopMinutes",
    when: "scale",
    rule: "applies only to the one-instance stacks: a scale stack is stopped by the group, not by its instances",
    fix: "pulumi config rm odapi:idleStopMinutes   (and set odapi:scaleToZeroCron / odapi:scaleUpCron)",
    broken: (cfg) => ifBad(cfg.idleStopMinutes !== 0, cfg.idleStopMinutes),
  },
  ...(["tlsCert", "tlsKey"] as const).map(
    (key): Rule => ({
      key,
      when: "scale",
      rule: "applies only to the one-instance stacks: the scale stack's HTTPS ends at the load balancer",
      fix: `pulumi config rm ${fullKey(key)}   (import your certificate into ACM and set odapi:acmCertificateArn)`,
      broken: (cfg) => ifBad(key === "tlsCert" ? cfg.hasTlsCert : cfg.hasTlsKey, "(set)"),
    }),
  ),
  {
    key: "minReplicas",
    when: "scale",
    rule: "must be ≥ 1 (pulumi up proves a detection through the load balancer; scale to zero with scaleToZeroCron)",
    fix: "pulumi config set odapi:minReplicas 2",
    broken: (cfg) => ifBad(!Number.isInteger(cfg.minReplicas) || cfg.minReplicas < 1, cfg.minReplicas),
  },
  {
    key: "maxReplicas",
    when: "scale",
    rule: (cfg) => `must be ≥ odapi:minReplicas (${cfg.minReplicas})`,
    fix: (cfg) => `pulumi config set odapi:maxReplicas ${Math.max(cfg.minReplicas, 1)}`,
    broken: (cfg) => ifBad(cfg.maxReplicas < cfg.minReplicas, cfg.maxReplicas),
  },
  {
    key: "targetRequestsPerReplica",
    when: "scale",
    rule: "must be ≥ 1 request per minute per instance",
    fix: "pulumi config set odapi:targetRequestsPerReplica 280",
    broken: (cfg) =>
      ifBad(
        !Number.isInteger(cfg.targetRequestsPerReplica) || cfg.targetRequestsPerReplica < 1,
        cfg.targetRequestsPerReplica,
      ),
  },
  {
    key: "requireApiKey",
    when: "scale",
    rule: "must be true for 'scale': the load balancer's health check (/healthz) is served by the API-key gateway",
    fix: "pulumi config set odapi:requireApiKey true",
    broken: (cfg) => ifBad(!cfg.requireApiKey, false),
  },
  {
    key: "availabilityZone",
    when: "scale",
    rule: "does not apply to 'scale': the group spans every availability zone of the default VPC",
    fix: "pulumi config rm odapi:availabilityZone",
    broken: (cfg) => ifBad(cfg.availabilityZone, cfg.availabilityZone),
  },
  ...(["scaleToZeroCron", "scaleUpCron"] as const).flatMap((key): Rule[] => [
    {
      key,
      when: "scale",
      rule: "is not a five-field cron expression (minute hour day-of-month month day-of-week, UTC)",
      fix: `pulumi config set ${fullKey(key)} '0 20 * * *'   (or pulumi config rm ${fullKey(key)})`,
      broken: (cfg) => ifBad(cfg[key] && !isCron(cfg[key] as string), cfg[key]),
    },
  ]),
  {
    key: "scaleUpCron",
    when: "scale",
    rule: "scaleToZeroCron and scaleUpCron go together: one without the other leaves the group at 0 or never at 0",
    fix: "set both (e.g. '0 20 * * *' and '0 7 * * 1-5') or remove both",
    broken: (cfg) => ifBad(!cfg.scaleToZeroCron !== !cfg.scaleUpCron, cfg.scaleUpCron ?? ""),
  },
  {
    key: "acmCertificateArn",
    when: "scale",
    rule: "is not an ACM certificate ARN",
    fix: "use arn:aws:acm:<region>:<account>:certificate/<id> (aws acm list-certificates), or leave it empty for a generated certificate",
    broken: (cfg) =>
      ifBad(cfg.acmCertificateArn && !ACM_ARN.test(cfg.acmCertificateArn), cfg.acmCertificateArn),
  },
  {
    key: "httpListener",
    when: "scale",
    rule: "is true but odapi:acmCertificateArn is set: choose HTTPS with that certificate or the HTTP opt-out",
    fix: "pulumi config set odapi:httpListener false   (or pulumi config rm odapi:acmCertificateArn)",
    broken: (cfg) => ifBad(cfg.httpListener && cfg.acmCertificateArn, true),
  },
  ...onlyFor("host", ["sshHost", "hostKey"]),
  {
    key: "aws:region",
    when: "aws",
    rule: "is required for target 'aws'",
    fix: "pulumi config set aws:region us-east-1",
    broken: (cfg) => ifBad(!cfg.region, ""),
  },

  // ---- AWS Academy Learner Lab (design.md), checked before anything is created ----
  {
    key: "gpu",
    when: "learnerLab",
    rule: "Learner Lab has no GPU instances (g4dn starts at xlarge, above the lab's size limit)",
    fix: "pulumi config set odapi:gpu false   (use the gpu stack in a normal AWS account)",
    broken: (cfg) => ifBad(cfg.gpu, true),
  },
  {
    key: "instanceType",
    when: "learnerLab",
    rule: "Learner Lab does not allow GPU instance types",
    fix: "pulumi config set odapi:instanceType t3.large",
    broken: (cfg) => ifBad(typeOf(cfg) && isGpuInstanceType(cfg.instanceType) && !cfg.gpu, cfg.instanceType),
  },
  {
    key: "instanceType",
    when: "learnerLab",
    rule: "Learner Lab allows instance sizes nano, micro, small, medium and large only",
    fix: "pulumi config set odapi:instanceType t3.large",
    broken: (cfg) =>
      ifBad((typeOf(cfg)?.sizeRank ?? -1) > sizeRankOf(LEARNER_LAB_MAX_SIZE), cfg.instanceType),
  },
  {
    key: "aws:region",
    when: "learnerLab",
    rule: `Learner Lab allows only ${LEARNER_LAB_REGIONS.join(" and ")}`,
    fix: "pulumi config set aws:region us-east-1",
    broken: (cfg) =>
      ifBad(cfg.region && !(LEARNER_LAB_REGIONS as readonly string[]).includes(cfg.region), cfg.region),
  },
  {
    key: "volumeSizeGb",
    when: "learnerLab",
    rule: `Learner Lab allows EBS volumes up to ${LEARNER_LAB_MAX_VOLUME_GB} GB`,
    fix: `pulumi config set odapi:volumeSizeGb ${LEARNER_LAB_MAX_VOLUME_GB}   (or 0 for automatic sizing)`,
    broken: ({ volumeSizeGb: gb }) => ifBad(gb !== undefined && gb > LEARNER_LAB_MAX_VOLUME_GB, gb),
  },
  {
    key: "instanceProfile",
    when: "scaleLab",
    rule: "is empty, so the stack would create an IAM role, which Learner Lab forbids",
    fix: "pulumi config set odapi:instanceProfile LabInstanceProfile",
    broken: (cfg) => ifBad(!cfg.instanceProfile, ""),
  },
  {
    key: "maxReplicas",
    when: "scaleLab",
    rule: `plus the ${REPLACEMENT_SPARE} spare instance that rebalancing and instance refresh may start exceeds Learner Lab's ${LEARNER_LAB_MAX_INSTANCES} running instances (20 deactivates the account)`,
    fix: `pulumi config set odapi:maxReplicas ${LEARNER_LAB_MAX_INSTANCES - REPLACEMENT_SPARE}`,
    broken: (cfg) => ifBad(peakInstances(cfg) > LEARNER_LAB_MAX_INSTANCES, cfg.maxReplicas),
  },
  {
    key: "maxReplicas",
    when: "scaleLab",
    rule: (cfg) =>
      `plus ${REPLACEMENT_SPARE} spare, × ${vcpusOf(cfg.instanceType)} vCPU of ${cfg.instanceType}, is ${peakInstances(cfg) * vcpusOf(cfg.instanceType)} vCPU: above Learner Lab's ${LEARNER_LAB_MAX_VCPUS}`,
    fix: (cfg) =>
      `pulumi config set odapi:maxReplicas ${Math.max(1, Math.floor(LEARNER_LAB_MAX_VCPUS / vcpusOf(cfg.instanceType)) - REPLACEMENT_SPARE)}   (or a smaller instance type)`,
    broken: (cfg) =>
      ifBad(
        !!typeOf(cfg) && peakInstances(cfg) * vcpusOf(cfg.instanceType) > LEARNER_LAB_MAX_VCPUS,
        cfg.maxReplicas,
      ),
  },
  {
    key: "warmPool",
    when: "scaleLab",
    rule: "Learner Lab stops and starts instances with the session, which fights a warm pool's stopped instances",
    fix: "pulumi config set odapi:warmPool false",
    broken: (cfg) => ifBad(cfg.warmPool, true),
  },
];

/** Whether a rule's `when` covers this config. */
export function applies(when: When, cfg: StackConfig): boolean {
  switch (when) {
    case "always":
      return true;
    case "aws":
      return cfg.target !== "host";
    case "ec2":
      return cfg.target === "aws";
    case "scale":
      return cfg.target === "scale";
    case "host":
      return cfg.target === "host";
    case "learnerLab":
      return cfg.target !== "host" && cfg.learnerLab;
    case "scaleLab":
      return cfg.target === "scale" && cfg.learnerLab;
  }
}

const text = (t: Text, cfg: StackConfig) => (typeof t === "string" ? t : t(cfg));

/** Every problem of the config, in the table's order. */
export function configProblems(cfg: StackConfig, rules: readonly Rule[] = RULES): ConfigProblem[] {
  return rules
    .filter((r) => applies(r.when, cfg))
    .flatMap((r) =>
      r.broken(cfg).map((value) => ({
        key: r.key.includes(":") ? r.key : fullKey(r.key as ConfigKey),
        value,
        rule: text(r.rule, cfg),
        fix: text(r.fix, cfg),
      })),
    );
}
