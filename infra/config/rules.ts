// The validation rules as one table: key, when it applies, the rule, the fix, and which values break it. Pure.
import { IDLE_STOP_MINUTES, isIdleStopMinutes } from "../../bootstrap/aws/idle-rule";
import { isPlainRemoteDir, REMOTE_DIR_RULE } from "../../common/remote-dir";
import { CATALOG_NAMES, DEFAULT_CATALOG_MODELS } from "../../model-prep/catalog";
import { isWorldCidr, parseCidr } from "../cidrs";
import { isArmInstanceType, isGpuInstanceType, parseInstanceType, sizeRankOf } from "../instance-type";
import { fullKey } from "./keys";
import { LEARNER_LAB_MAX_SIZE, LEARNER_LAB_MAX_VOLUME_GB, LEARNER_LAB_REGIONS } from "./learner-lab";
import type { ConfigProblem } from "./problems";
import type { ConfigKey, StackConfig } from "./types";

/** Which configs a rule applies to. */
export type When = "always" | "aws" | "host" | "learnerLab";

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
    when: "aws",
    rule: (cfg) =>
      `is required with odapi:keyName (${cfg.keyName}): the deployer logs in with that key pair's private key`,
    fix: PRIVATE_KEY_FIX,
    broken: (cfg) => ifBad(cfg.keyName && !cfg.hasSshPrivateKey, ""),
  },
  {
    key: "keyName",
    when: "aws",
    rule: "is empty but odapi:sshPrivateKey is set: name the EC2 key pair that private key belongs to",
    fix: "pulumi config set odapi:keyName vockey   (or pulumi config rm odapi:sshPrivateKey to generate a key)",
    broken: (cfg) => ifBad(!cfg.keyName && cfg.hasSshPrivateKey, ""),
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
];

/** Whether a rule's `when` covers this config. */
export function applies(when: When, cfg: StackConfig): boolean {
  switch (when) {
    case "always":
      return true;
    case "aws":
      return cfg.target === "aws";
    case "host":
      return cfg.target === "host";
    case "learnerLab":
      return cfg.target === "aws" && cfg.learnerLab;
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
