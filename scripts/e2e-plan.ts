// The opt-in AWS end-to-end run, its pure decisions: whether it can run here, the throwaway stack's name and
// config, and the test client's command line.
import { readFileSync } from "node:fs";
import path from "node:path";
import yaml from "js-yaml";

export interface E2eEnvironment {
  env: NodeJS.ProcessEnv;
  /** `pulumi version` worked. */
  hasPulumiCli: boolean;
  /** ~/.aws/credentials or ~/.aws/config exists. */
  hasAwsFiles: boolean;
}

/** Why the run must be skipped, or undefined when it can go ahead. */
export function skipReason(e: E2eEnvironment): string | undefined {
  if (!e.hasPulumiCli) {
    return "the pulumi CLI is not installed (https://www.pulumi.com/docs/install/); the end-to-end run needs it";
  }
  const env = e.env;
  const hasAws = !!(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) || !!env.AWS_PROFILE || e.hasAwsFiles;
  if (!hasAws) {
    return "no AWS credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or ~/.aws/credentials from Learner Lab's AWS Details)";
  }
  return undefined;
}

/** A throwaway stack name nobody would pick by hand: e2e-<base>-<time36>-<rand>. */
export function ephemeralStackName(base: string, now: number, random: number): string {
  return `e2e-${base}-${now.toString(36)}-${Math.floor(random * 36 ** 4)
    .toString(36)
    .padStart(4, "0")}`;
}

export type ConfigMap = Record<string, { value: string; secret: boolean }>;

/** The base stack file's config (cpu or gpu) plus the private key (a secret) when the base needs one. */
export function e2eConfig(projectDir: string, base: string, sshPrivateKey?: string): ConfigMap {
  const file = path.join(projectDir, `Pulumi.${base}.yaml`);
  const parsed = yaml.load(readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  const out: ConfigMap = {};
  for (const [key, value] of Object.entries(parsed.config ?? {})) {
    out[key] = { value: typeof value === "string" ? value : JSON.stringify(value), secret: false };
  }
  if (out["odapi:keyName"] && !sshPrivateKey) {
    throw new Error(
      `stack ${base} logs in with key pair ${out["odapi:keyName"].value}: set ODAPI_E2E_SSH_KEY_FILE to its private key file (Learner Lab: ~/Downloads/labsuser.pem)`,
    );
  }
  if (sshPrivateKey) out["odapi:sshPrivateKey"] = { value: sshPrivateKey, secret: true };
  return out;
}

/** The test client against the fresh stack: every model, JSON report. The API key travels in the environment. */
export function testClientArgv(apiUrl: string, models: string[]): string[] {
  return [
    "npx",
    "zx",
    "bootstrap/test-endpoint.mjs",
    "--url",
    apiUrl,
    ...models.flatMap((m) => ["--model", m]),
    "--json",
  ];
}

export const E2E_BASES = ["cpu", "gpu", "scale"] as const;
export type E2eBase = (typeof E2E_BASES)[number];

/** The base stack from `npm run e2e:aws -- [--stack] cpu|gpu|scale` (default cpu); undefined when unknown. */
export function parseE2eBase(argv: string[]): E2eBase | undefined {
  const i = argv.indexOf("--stack");
  const name = i >= 0 ? argv[i + 1] : (argv.find((a) => !a.startsWith("-")) ?? "cpu");
  return (E2E_BASES as readonly string[]).includes(name ?? "") ? (name as E2eBase) : undefined;
}

/** Concurrency steps of the scale run's load: each held until a replica is added or its time is up. */
export const RISING_CONCURRENCY = [4, 16, 32] as const;

/** `odapi bench` against the load balancer: one model, JSON report (the key travels in the environment). */
export function benchArgv(apiUrl: string, model: string, requests: number, concurrency: number): string[] {
  return [
    "node",
    "bin/odapi.cjs",
    "bench",
    "--url",
    apiUrl,
    "--model",
    model,
    "--requests",
    String(requests),
    "--concurrency",
    String(concurrency),
    "--warmup",
    "0",
    "--timeout",
    "120000",
    "--json",
  ];
}

export interface BenchTally {
  requests: number;
  ok: number;
  errors: number;
  requestsPerSecond: number;
}

/** Requests, successes and failures of one `odapi bench --json` report; a run without a report counts as failed. */
export function tallyBench(stdout: string, requests: number): BenchTally {
  try {
    const report = JSON.parse(stdout) as {
      models?: { bench?: { requests: number; ok: number; errors: number; requestsPerSecond: number } }[];
    };
    const b = report.models?.[0]?.bench;
    if (b)
      return { requests: b.requests, ok: b.ok, errors: b.errors, requestsPerSecond: b.requestsPerSecond };
  } catch {
    // no report: counted as failed below
  }
  return { requests, ok: 0, errors: requests, requestsPerSecond: 0 };
}

/** Whether an `odapi detect --json` report shows exactly this version AVAILABLE (the rollout reached that replica). */
export function servesOnly(detectJson: string, version: string): boolean {
  try {
    const report = JSON.parse(detectJson) as { ok?: boolean; models?: { versions?: string[] }[] };
    const versions = (report.models?.[0]?.versions ?? []).map(String);
    return report.ok === true && versions.length === 1 && versions[0] === version;
  } catch {
    return false;
  }
}
