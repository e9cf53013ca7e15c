// The stack's typed configuration: every key (with type, description, default) declared once here, parsed from
// Pulumi's raw strings and validated before any resource exists. Pure: no Pulumi runtime, no I/O.

import { OdapiError } from "../common/errors";
import { isPlainRemoteDir, REMOTE_DIR_RULE } from "../common/remote-dir";
import { CATALOG_NAMES, DEFAULT_CATALOG_MODELS } from "../model-prep/catalog";
import { isWorldCidr, parseCidr } from "./cidrs";
import { isArmInstanceType, isGpuInstanceType, parseInstanceType, sizeRankOf } from "./instance-type";

/** Pulumi's config namespace for this project (= `name` in Pulumi.yaml). */
export const NAMESPACE = "odapi";

export type KeyType = "string" | "integer" | "boolean" | "array";
export interface KeySpec {
  type: KeyType;
  description: string;
  default: string | number | boolean | string[];
  secret?: boolean;
}

/** Every config key of the project; Pulumi.yaml declares exactly these (a test keeps the two in step). */
export const CONFIG_KEYS = {
  target: {
    type: "string",
    default: "aws",
    description:
      "Where to deploy: 'aws' (an EC2 instance this stack creates) or 'host' (an existing Linux host over SSH).",
  },
  learnerLab: {
    type: "boolean",
    default: false,
    description:
      "Enforce AWS Academy Learner Lab limits before creating anything: us-east-1/us-west-2, no GPU, sizes up to large, volume ≤ 100 GB.",
  },
  gpu: {
    type: "boolean",
    default: false,
    description:
      "Serve with the GPU image (tensorflow/serving:<v>-gpu) on a GPU instance with the Deep Learning Base AMI.",
  },
  instanceType: {
    type: "string",
    default: "t3.large",
    description: "EC2 instance type (x86_64). Learner Lab: nano…large only. GPU: e.g. g4dn.xlarge.",
  },
  amiId: {
    type: "string",
    default: "",
    description:
      "Pin an AMI id instead of looking up the newest Ubuntu 22.04 (cpu) or Deep Learning Base GPU AMI (gpu).",
  },
  availabilityZone: {
    type: "string",
    default: "",
    description:
      "Availability zone for the instance, e.g. us-east-1a (empty: AWS picks one in the default VPC).",
  },
  volumeSizeGb: {
    type: "integer",
    default: 0,
    description: "Encrypted gp3 root volume size in GB; 0 = sized for the AMI, the images and the models.",
  },
  keyName: {
    type: "string",
    default: "",
    description:
      "Existing EC2 key pair to log in with (e.g. vockey in Learner Lab; then set sshPrivateKey). Empty: generate an ed25519 key.",
  },
  sshPrivateKey: {
    type: "string",
    default: "",
    secret: true,
    description:
      "Private key (secret) for keyName or for the 'host' target: pulumi config set --secret odapi:sshPrivateKey < key.pem",
  },
  sshUser: {
    type: "string",
    default: "ubuntu",
    description: "SSH login user on the host (sudo without a password if not root).",
  },
  sshHost: {
    type: "string",
    default: "",
    description: "'host' target only: the server's address (DNS name or IP).",
  },
  sshPort: {
    type: "integer",
    default: 22,
    description: "'host' target only: the server's SSH port.",
  },
  hostKey: {
    type: "string",
    default: "",
    description:
      "'host' target only: the server's SSH host key ('ssh-ed25519 AAAA…'); empty = trusted on first use and recorded in .odapi/known_hosts.",
  },
  allowedCidrs: {
    type: "array",
    default: [],
    description:
      "CIDRs allowed to reach SSH (22) and the REST API; empty = only this machine's public IP, detected at deploy time.",
  },
  apiCidrs: {
    type: "array",
    default: [],
    description:
      "Extra CIDRs allowed to reach the REST API only (never SSH). 0.0.0.0/0 is accepted only with requireApiKey.",
  },
  requireApiKey: {
    type: "boolean",
    default: true,
    description:
      "Front TF Serving with the API-key gateway; the key is generated per stack (output apiKey, a secret).",
  },
  models: {
    type: "array",
    default: [...DEFAULT_CATALOG_MODELS],
    description: `Catalog models prepared on the host: ${CATALOG_NAMES.join(", ")}.`,
  },
  localModelsDir: {
    type: "string",
    default: "",
    description:
      "Local dir of prepared models (<name>/<version>/saved_model.pb …) to upload too, relative to the project.",
  },
  modelVersion: {
    type: "integer",
    default: 1,
    description: "Version number the catalog models are served under (models/<name>/<version>/).",
  },
  pruneOldVersions: {
    type: "boolean",
    default: false,
    description:
      "Remove versions of the models from localModelsDir that the dir no longer has (odapi deploy --prune); off: they stay on the host, with a warning when one outranks.",
  },
  remoteDir: {
    type: "string",
    default: "/opt/odapi",
    description: "Absolute dir on the host for models, configs and the start/stop scripts.",
  },
  instanceProfile: {
    type: "string",
    default: "",
    description:
      "Existing IAM instance profile to attach (e.g. LabInstanceProfile); this program never creates IAM resources.",
  },
  sshWaitMinutes: {
    type: "integer",
    default: 15,
    description: "How long to wait for a new instance to accept SSH and finish cloud-init.",
  },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export type Target = "aws" | "host";

export interface StackConfig {
  target: Target;
  learnerLab: boolean;
  gpu: boolean;
  instanceType: string;
  amiId?: string;
  availabilityZone?: string;
  /** undefined = automatic sizing. */
  volumeSizeGb?: number;
  keyName?: string;
  /** Whether a private key is configured; the key itself is only ever read as a Pulumi secret. */
  hasSshPrivateKey: boolean;
  sshUser: string;
  sshHost?: string;
  sshPort: number;
  hostKey?: string;
  allowedCidrs: string[];
  apiCidrs: string[];
  requireApiKey: boolean;
  models: string[];
  localModelsDir?: string;
  modelVersion: number;
  pruneOldVersions: boolean;
  remoteDir: string;
  instanceProfile?: string;
  sshWaitMinutes: number;
  /** aws:region (or AWS_REGION / AWS_DEFAULT_REGION). */
  region?: string;
}

/** Reads one raw config value by full key ("odapi:gpu", "aws:region"), as Pulumi hands it to programs. */
export type RawConfig = (fullKey: string) => string | undefined;

export const fullKey = (key: ConfigKey): string => `${NAMESPACE}:${key}`;

export const LEARNER_LAB_REGIONS = ["us-east-1", "us-west-2"] as const;
export const LEARNER_LAB_MAX_VOLUME_GB = 100;
export const LEARNER_LAB_MAX_SIZE = "large";

const PRIVATE_KEY_REMEDY =
  "pulumi config set --secret odapi:sshPrivateKey < ~/Downloads/labsuser.pem   (the key file of that key pair / host)";

/** One problem with the stack config: which key, the bad value, the rule it breaks and how to fix it. */
export interface ConfigProblem {
  key: string;
  value: unknown;
  rule: string;
  fix: string;
}

function problemError(problems: ConfigProblem[]): OdapiError {
  const lines = problems.map((p) => `${p.key} = ${JSON.stringify(p.value)}: ${p.rule}`);
  const fixes = problems.map((p) => p.fix);
  return new OdapiError(
    problems.length === 1
      ? `invalid stack config: ${lines[0]}`
      : `invalid stack config:\n  ${lines.join("\n  ")}`,
    fixes.length === 1 ? fixes[0] : fixes.map((f, i) => `(${i + 1}) ${f}`).join("; "),
    "config",
  );
}

// ---- parsing: raw strings → typed values (a wrong type is a problem, never a silent default) ----

class Reader {
  readonly problems: ConfigProblem[] = [];
  constructor(private readonly raw: RawConfig) {}

  private value(key: ConfigKey): string | undefined {
    const v = this.raw(fullKey(key));
    return v === undefined ? undefined : v;
  }

  private bad(key: ConfigKey, value: unknown, rule: string, fix: string): void {
    this.problems.push({ key: fullKey(key), value, rule, fix });
  }

  string(key: ConfigKey): string {
    const v = this.value(key);
    return (v ?? (CONFIG_KEYS[key].default as string)).trim();
  }

  optional(key: ConfigKey): string | undefined {
    const v = this.string(key);
    return v === "" ? undefined : v;
  }

  boolean(key: ConfigKey): boolean {
    const v = this.value(key);
    if (v === undefined) return CONFIG_KEYS[key].default as boolean;
    if (v === "true" || v === "false") return v === "true";
    this.bad(key, v, "must be true or false", `pulumi config set ${fullKey(key)} true   (or false)`);
    return CONFIG_KEYS[key].default as boolean;
  }

  integer(key: ConfigKey): number {
    const v = this.value(key);
    if (v === undefined) return CONFIG_KEYS[key].default as number;
    if (/^-?\d+$/.test(v.trim())) return Number(v.trim());
    this.bad(key, v, "must be a whole number", `pulumi config set ${fullKey(key)} <number>`);
    return CONFIG_KEYS[key].default as number;
  }

  array(key: ConfigKey): string[] {
    const v = this.value(key);
    if (v === undefined) return [...(CONFIG_KEYS[key].default as readonly string[])];
    try {
      const parsed: unknown = JSON.parse(v);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === "string"))
        return parsed.map((x) => x.trim());
    } catch {
      // reported below
    }
    this.bad(
      key,
      v,
      "must be a list of strings",
      `pulumi config set --path '${fullKey(key)}[0]' <value>   (one entry per index)`,
    );
    return [];
  }

  has(key: ConfigKey): boolean {
    const v = this.value(key);
    return v !== undefined && v.trim() !== "";
  }
}

/** Parses every key (defaults for the missing ones). Type errors are collected and thrown together. */
export function parseStackConfig(raw: RawConfig, env: NodeJS.ProcessEnv = {}): StackConfig {
  const r = new Reader(raw);
  const target = r.string("target");
  if (target !== "aws" && target !== "host") {
    r.problems.push({
      key: fullKey("target"),
      value: target,
      rule: "must be 'aws' or 'host'",
      fix: "pulumi config set odapi:target aws   (or host for an existing server)",
    });
  }
  const volume = r.integer("volumeSizeGb");
  const cfg: StackConfig = {
    target: target === "host" ? "host" : "aws",
    learnerLab: r.boolean("learnerLab"),
    gpu: r.boolean("gpu"),
    instanceType: r.string("instanceType"),
    amiId: r.optional("amiId"),
    availabilityZone: r.optional("availabilityZone"),
    volumeSizeGb: volume === 0 ? undefined : volume,
    keyName: r.optional("keyName"),
    hasSshPrivateKey: r.has("sshPrivateKey"),
    sshUser: r.string("sshUser"),
    sshHost: r.optional("sshHost"),
    sshPort: r.integer("sshPort"),
    hostKey: r.optional("hostKey"),
    allowedCidrs: r.array("allowedCidrs"),
    apiCidrs: r.array("apiCidrs"),
    requireApiKey: r.boolean("requireApiKey"),
    models: r.array("models"),
    localModelsDir: r.optional("localModelsDir"),
    modelVersion: r.integer("modelVersion"),
    pruneOldVersions: r.boolean("pruneOldVersions"),
    remoteDir: r.string("remoteDir"),
    instanceProfile: r.optional("instanceProfile"),
    sshWaitMinutes: r.integer("sshWaitMinutes"),
    region: raw("aws:region") || env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
  };
  if (r.problems.length) throw problemError(r.problems);
  return cfg;
}

// ---- validation: pure rules over the typed config ----

const AMI_ID = /^ami-[0-9a-f]{8,17}$/;
const HOST_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( .*)?$/;
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6_LITERAL = /^[0-9A-Fa-f:.]+$/;
const SSH_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const AZ = /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/;

function problem(key: string, value: unknown, rule: string, fix: string): ConfigProblem {
  return { key, value, rule, fix };
}

function cidrProblems(
  key: ConfigKey,
  cidrs: string[],
  allowWorld: boolean,
  worldRule: string,
): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const c of cidrs) {
    if (!parseCidr(c)) {
      out.push(
        problem(
          fullKey(key),
          c,
          "is not a CIDR block",
          `use addresses like 203.0.113.7/32 or 2001:db8::/64 in ${fullKey(key)}`,
        ),
      );
    } else if (!allowWorld && isWorldCidr(c)) {
      out.push(
        problem(
          fullKey(key),
          c,
          worldRule,
          `list your own address or network instead (e.g. 203.0.113.7/32), or leave ${fullKey(key)} empty to use this machine's public IP`,
        ),
      );
    }
  }
  return out;
}

/** Rules for every target. */
export function generalProblems(cfg: StackConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const k = fullKey;
  if (cfg.models.length === 0 && !cfg.localModelsDir) {
    out.push(
      problem(
        k("models"),
        cfg.models,
        "no model to serve: models is empty and localModelsDir is not set",
        `pulumi config set --path 'odapi:models[0]' ${DEFAULT_CATALOG_MODELS[0]}   (or set odapi:localModelsDir)`,
      ),
    );
  }
  for (const m of cfg.models) {
    if (!CATALOG_NAMES.includes(m)) {
      out.push(problem(k("models"), m, "is not a catalog model", `use one of: ${CATALOG_NAMES.join(", ")}`));
    }
  }
  if (new Set(cfg.models).size !== cfg.models.length) {
    out.push(problem(k("models"), cfg.models, "lists a model twice", "list each catalog model once"));
  }
  if (!Number.isInteger(cfg.modelVersion) || cfg.modelVersion < 1) {
    out.push(
      problem(k("modelVersion"), cfg.modelVersion, "must be ≥ 1", "pulumi config set odapi:modelVersion 1"),
    );
  }
  if (!isPlainRemoteDir(cfg.remoteDir)) {
    out.push(
      problem(k("remoteDir"), cfg.remoteDir, REMOTE_DIR_RULE, "pulumi config set odapi:remoteDir /opt/odapi"),
    );
  }
  if (!SSH_USER.test(cfg.sshUser)) {
    out.push(
      problem(
        k("sshUser"),
        cfg.sshUser,
        "is not a valid login name",
        "pulumi config set odapi:sshUser ubuntu",
      ),
    );
  }
  if (!Number.isInteger(cfg.sshWaitMinutes) || cfg.sshWaitMinutes < 1 || cfg.sshWaitMinutes > 120) {
    out.push(
      problem(
        k("sshWaitMinutes"),
        cfg.sshWaitMinutes,
        "must be 1…120",
        "pulumi config set odapi:sshWaitMinutes 15",
      ),
    );
  }
  out.push(
    ...cidrProblems(
      "allowedCidrs",
      cfg.allowedCidrs,
      false,
      "opens SSH (port 22) to the whole internet, which this project never does",
    ),
    ...cidrProblems(
      "apiCidrs",
      cfg.apiCidrs,
      cfg.requireApiKey,
      "opens the REST API to the whole internet without an API key",
    ),
  );
  if (cfg.hostKey && !HOST_KEY.test(cfg.hostKey)) {
    out.push(
      problem(
        k("hostKey"),
        cfg.hostKey,
        "is not an SSH public host key",
        "copy one line of `ssh-keyscan -t ed25519 <host>` without the host name: 'ssh-ed25519 AAAA…'",
      ),
    );
  }
  return out;
}

/** Rules for the 'host' target (an existing server): address and key are required, AWS keys do not apply. */
export function hostTargetProblems(cfg: StackConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const k = fullKey;
  if (!cfg.sshHost) {
    out.push(
      problem(
        k("sshHost"),
        "",
        "is required for target 'host'",
        "pulumi config set odapi:sshHost <server address>",
      ),
    );
  } else if (!HOSTNAME.test(cfg.sshHost) && !(cfg.sshHost.includes(":") && IPV6_LITERAL.test(cfg.sshHost))) {
    out.push(
      problem(
        k("sshHost"),
        cfg.sshHost,
        "is not a host name or IP address",
        "use e.g. 192.0.2.10 or srv.example.com",
      ),
    );
  }
  if (!Number.isInteger(cfg.sshPort) || cfg.sshPort < 1 || cfg.sshPort > 65535) {
    out.push(problem(k("sshPort"), cfg.sshPort, "is not a TCP port", "pulumi config set odapi:sshPort 22"));
  }
  if (!cfg.hasSshPrivateKey) {
    out.push(
      problem(
        k("sshPrivateKey"),
        "",
        "is required for target 'host' (the key that logs in as sshUser)",
        PRIVATE_KEY_REMEDY,
      ),
    );
  }
  const awsOnly: ConfigKey[] = ["amiId", "availabilityZone", "keyName", "instanceProfile"];
  for (const key of awsOnly) {
    const v = cfg[key as keyof StackConfig];
    if (v) {
      out.push(problem(k(key), v, "applies only to target 'aws'", `pulumi config rm ${k(key)}`));
    }
  }
  if (cfg.learnerLab) {
    out.push(
      problem(
        k("learnerLab"),
        true,
        "applies only to target 'aws'",
        "pulumi config set odapi:learnerLab false",
      ),
    );
  }
  return out;
}

/** Rules for the 'aws' target in any account. */
export function awsTargetProblems(cfg: StackConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const k = fullKey;
  const type = parseInstanceType(cfg.instanceType);
  if (!type) {
    out.push(
      problem(
        k("instanceType"),
        cfg.instanceType,
        "is not an EC2 instance type",
        "use e.g. t3.large or g4dn.xlarge",
      ),
    );
  } else if (isArmInstanceType(cfg.instanceType)) {
    out.push(
      problem(
        k("instanceType"),
        cfg.instanceType,
        "is an ARM (Graviton) type; the TensorFlow Serving images are x86_64 only",
        "use an x86_64 type, e.g. t3.large (cpu) or g4dn.xlarge (gpu)",
      ),
    );
  } else if (cfg.gpu && !isGpuInstanceType(cfg.instanceType)) {
    out.push(
      problem(
        k("instanceType"),
        cfg.instanceType,
        "has no NVIDIA GPU but odapi:gpu is true",
        "use a GPU type such as g4dn.xlarge, or pulumi config set odapi:gpu false",
      ),
    );
  } else if (!cfg.gpu && isGpuInstanceType(cfg.instanceType)) {
    out.push(
      problem(
        k("gpu"),
        false,
        `is false but ${cfg.instanceType} is a GPU instance (you would pay for a GPU the CPU image never uses)`,
        "pulumi config set odapi:gpu true   (or pick a CPU type such as t3.large)",
      ),
    );
  }
  if (cfg.amiId && !AMI_ID.test(cfg.amiId)) {
    out.push(
      problem(k("amiId"), cfg.amiId, "is not an AMI id", "use ami-0123456789abcdef0 or leave it empty"),
    );
  }
  if (cfg.availabilityZone && !AZ.test(cfg.availabilityZone)) {
    out.push(
      problem(
        k("availabilityZone"),
        cfg.availabilityZone,
        "is not an availability zone",
        "use e.g. us-east-1a or leave it empty",
      ),
    );
  }
  if (cfg.volumeSizeGb !== undefined && (cfg.volumeSizeGb < 8 || cfg.volumeSizeGb > 16384)) {
    out.push(
      problem(
        k("volumeSizeGb"),
        cfg.volumeSizeGb,
        "must be 8…16384 GB (or 0 for automatic)",
        "pulumi config set odapi:volumeSizeGb 0",
      ),
    );
  }
  if (cfg.keyName && !cfg.hasSshPrivateKey) {
    out.push(
      problem(
        k("sshPrivateKey"),
        "",
        `is required with odapi:keyName (${cfg.keyName}): the deployer logs in with that key pair's private key`,
        PRIVATE_KEY_REMEDY,
      ),
    );
  }
  if (!cfg.keyName && cfg.hasSshPrivateKey) {
    out.push(
      problem(
        k("keyName"),
        "",
        "is empty but odapi:sshPrivateKey is set: name the EC2 key pair that private key belongs to",
        "pulumi config set odapi:keyName vockey   (or pulumi config rm odapi:sshPrivateKey to generate a key)",
      ),
    );
  }
  for (const key of ["sshHost", "hostKey"] as const) {
    if (cfg[key])
      out.push(problem(k(key), cfg[key], "applies only to target 'host'", `pulumi config rm ${k(key)}`));
  }
  if (!cfg.region) {
    out.push(
      problem("aws:region", "", "is required for target 'aws'", "pulumi config set aws:region us-east-1"),
    );
  }
  return out;
}

/** AWS Academy Learner Lab limits (design.md): checked before anything is created, each naming key and rule. */
export function learnerLabProblems(cfg: StackConfig): ConfigProblem[] {
  if (!cfg.learnerLab || cfg.target !== "aws") return [];
  const out: ConfigProblem[] = [];
  const k = fullKey;
  if (cfg.gpu) {
    out.push(
      problem(
        k("gpu"),
        true,
        "Learner Lab has no GPU instances (g4dn starts at xlarge, above the lab's size limit)",
        "pulumi config set odapi:gpu false   (use the gpu stack in a normal AWS account)",
      ),
    );
  }
  const type = parseInstanceType(cfg.instanceType);
  if (type && isGpuInstanceType(cfg.instanceType) && !cfg.gpu) {
    out.push(
      problem(
        k("instanceType"),
        cfg.instanceType,
        "Learner Lab does not allow GPU instance types",
        "pulumi config set odapi:instanceType t3.large",
      ),
    );
  }
  if (type && type.sizeRank > sizeRankOf(LEARNER_LAB_MAX_SIZE)) {
    out.push(
      problem(
        k("instanceType"),
        cfg.instanceType,
        "Learner Lab allows instance sizes nano, micro, small, medium and large only",
        "pulumi config set odapi:instanceType t3.large",
      ),
    );
  }
  if (cfg.region && !(LEARNER_LAB_REGIONS as readonly string[]).includes(cfg.region)) {
    out.push(
      problem(
        "aws:region",
        cfg.region,
        `Learner Lab allows only ${LEARNER_LAB_REGIONS.join(" and ")}`,
        "pulumi config set aws:region us-east-1",
      ),
    );
  }
  if (cfg.volumeSizeGb !== undefined && cfg.volumeSizeGb > LEARNER_LAB_MAX_VOLUME_GB) {
    out.push(
      problem(
        k("volumeSizeGb"),
        cfg.volumeSizeGb,
        `Learner Lab allows EBS volumes up to ${LEARNER_LAB_MAX_VOLUME_GB} GB`,
        `pulumi config set odapi:volumeSizeGb ${LEARNER_LAB_MAX_VOLUME_GB}   (or 0 for automatic sizing)`,
      ),
    );
  }
  return out;
}

/** Every problem of the config, in a stable order. */
export function configProblems(cfg: StackConfig): ConfigProblem[] {
  return [
    ...generalProblems(cfg),
    ...(cfg.target === "host" ? hostTargetProblems(cfg) : awsTargetProblems(cfg)),
    ...learnerLabProblems(cfg),
  ];
}

/** Throws one OdapiError listing every problem (each with key, value, rule and fix); returns the config if clean. */
export function validateStackConfig(cfg: StackConfig): StackConfig {
  const problems = configProblems(cfg);
  if (problems.length) throw problemError(problems);
  return cfg;
}

/** Parse + validate in one step: what index.ts calls with Pulumi's config. */
export function loadStackConfig(raw: RawConfig, env: NodeJS.ProcessEnv = {}): StackConfig {
  return validateStackConfig(parseStackConfig(raw, env));
}

/** A problem found after looking something up (e.g. the AMI's root volume), in the same format. */
export function configError(problems: ConfigProblem[]): OdapiError {
  return problemError(problems);
}
