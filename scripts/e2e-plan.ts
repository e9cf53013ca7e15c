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
