// Pulumi's raw config strings → the typed StackConfig, with each key's default from Pulumi.yaml. A value of the
// wrong type is a problem, never a silent default.
import { configKeys, fullKey, type KeySpec, type KeyTable, type KeyType, keySpec } from "./keys";
import { type ConfigProblem, configError } from "./problems";
import { type ConfigKey, type RawConfig, type StackConfig, TARGETS, type Target } from "./types";

class Reader {
  readonly problems: ConfigProblem[] = [];
  constructor(
    private readonly raw: RawConfig,
    private readonly table: KeyTable,
  ) {}

  private spec(key: ConfigKey, type: KeyType): KeySpec {
    return keySpec(this.table, key, type);
  }

  private bad(key: ConfigKey, value: unknown, rule: string, fix: string): void {
    this.problems.push({ key: fullKey(key), value, rule, fix });
  }

  string(key: ConfigKey): string {
    return (this.raw(fullKey(key)) ?? (this.spec(key, "string").default as string)).trim();
  }

  optional(key: ConfigKey): string | undefined {
    const v = this.string(key);
    return v === "" ? undefined : v;
  }

  boolean(key: ConfigKey): boolean {
    const fallback = this.spec(key, "boolean").default as boolean;
    const v = this.raw(fullKey(key));
    if (v === undefined) return fallback;
    if (v === "true" || v === "false") return v === "true";
    this.bad(key, v, "must be true or false", `pulumi config set ${fullKey(key)} true   (or false)`);
    return fallback;
  }

  integer(key: ConfigKey): number {
    const fallback = this.spec(key, "integer").default as number;
    const v = this.raw(fullKey(key));
    if (v === undefined) return fallback;
    if (/^-?\d+$/.test(v.trim())) return Number(v.trim());
    this.bad(key, v, "must be a whole number", `pulumi config set ${fullKey(key)} <number>`);
    return fallback;
  }

  array(key: ConfigKey): string[] {
    const fallback = this.spec(key, "array").default as string[];
    const v = this.raw(fullKey(key));
    if (v === undefined) return [...fallback];
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

  /** Set and not blank; the value itself is read only as a secret (index.ts). */
  has(key: ConfigKey): boolean {
    this.spec(key, "string");
    const v = this.raw(fullKey(key));
    return v !== undefined && v.trim() !== "";
  }
}

/** Parses every key (defaults from the key table). Type errors are collected and thrown together. */
export function parseStackConfig(
  raw: RawConfig,
  env: NodeJS.ProcessEnv = {},
  table: KeyTable = configKeys(),
): StackConfig {
  const r = new Reader(raw, table);
  const target = r.string("target");
  if (!(TARGETS as readonly string[]).includes(target)) {
    r.problems.push({
      key: fullKey("target"),
      value: target,
      rule: "must be 'aws', 'host' or 'scale'",
      fix: "pulumi config set odapi:target aws   (or host for an existing server, scale for an Auto Scaling group)",
    });
  }
  const volume = r.integer("volumeSizeGb");
  const cfg: StackConfig = {
    target: (TARGETS as readonly string[]).includes(target) ? (target as Target) : "aws",
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
    domain: r.optional("domain"),
    hasTlsCert: r.has("tlsCert"),
    hasTlsKey: r.has("tlsKey"),
    idleStopMinutes: r.integer("idleStopMinutes"),
    minReplicas: r.integer("minReplicas"),
    maxReplicas: r.integer("maxReplicas"),
    targetRequestsPerReplica: r.integer("targetRequestsPerReplica"),
    warmPool: r.boolean("warmPool"),
    scaleToZeroCron: r.optional("scaleToZeroCron"),
    scaleUpCron: r.optional("scaleUpCron"),
    acmCertificateArn: r.optional("acmCertificateArn"),
    httpListener: r.boolean("httpListener"),
    region: raw("aws:region") || env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
  };
  if (r.problems.length) throw configError(r.problems);
  return cfg;
}
