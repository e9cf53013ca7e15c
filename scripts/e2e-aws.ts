// Opt-in end-to-end run on real AWS: `npm run e2e:aws [-- [--stack] cpu|gpu|scale]`. Creates a throwaway stack from
// the cpu (default), gpu or scale stack file, `pulumi up` (which returns only when every model answers), runs the
// test client against it (scale: also scale-out under load and a v2 rollout with zero failed requests, e2e-scale.ts),
// then destroys and removes the stack whatever happened (scale: and checks nothing is left). Without the pulumi CLI
// or AWS credentials it says why and exits 0.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { PROJECT_ROOT } from "../common/paths";
import {
  E2E_BASES,
  e2eConfig,
  ephemeralStackName,
  parseE2eBase,
  skipReason,
  testClientArgv,
} from "./e2e-plan";
import { exerciseScaleStack, leftBehind, type ScaleOutputs } from "./e2e-scale";

const ROOT = PROJECT_ROOT;

function log(msg: string): void {
  process.stderr.write(`e2e-aws: ${msg}\n`);
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

async function main(): Promise<number> {
  const base = parseE2eBase(process.argv.slice(2));
  if (!base) {
    log(`unknown base stack in ${process.argv.slice(2).join(" ")}: use ${E2E_BASES.join(", ")}`);
    return 2;
  }
  const aws = path.join(os.homedir(), ".aws");
  const reason = skipReason({
    env: process.env,
    hasPulumiCli: spawnSync("pulumi", ["version"], { stdio: "ignore" }).status === 0,
    hasAwsFiles: existsSync(path.join(aws, "credentials")) || existsSync(path.join(aws, "config")),
  });
  if (reason) {
    log(`skipped: ${reason}`);
    return 0;
  }

  const keyFile = process.env.ODAPI_E2E_SSH_KEY_FILE;
  const config = e2eConfig(ROOT, base, keyFile ? readFileSync(keyFile, "utf8") : undefined);
  const stackName = ephemeralStackName(base, Date.now(), Math.random());
  // A throwaway stack on a local backend needs a passphrase; a fresh random one is enough for its lifetime.
  const envVars: Record<string, string> = {};
  if (!process.env.PULUMI_CONFIG_PASSPHRASE && !process.env.PULUMI_CONFIG_PASSPHRASE_FILE) {
    envVars.PULUMI_CONFIG_PASSPHRASE = `e2e-${Math.random().toString(36).slice(2)}`;
  }
  log(`stack ${stackName} (from Pulumi.${base}.yaml)`);
  let stack: Stack | undefined;
  let failed = false;
  let scaleOutputs: ScaleOutputs | undefined;
  try {
    stack = await LocalWorkspace.createOrSelectStack({ stackName, workDir: ROOT }, { envVars });
    await stack.setAllConfig(config);
    const upStart = Date.now();
    const up = await stack.up({ onOutput: (out) => process.stderr.write(out) });
    log(`pulumi up: ${seconds(upStart)}`);
    const apiUrl = up.outputs.apiUrl?.value as string;
    const models = up.outputs.models?.value as string[];
    const apiKey = up.outputs.apiKey?.value as string | undefined;
    const testStart = Date.now();
    if (base === "scale") {
      scaleOutputs = Object.fromEntries(
        Object.entries(up.outputs).map(([k, v]) => [k, v.value]),
      ) as ScaleOutputs;
      failed = !(await exerciseScaleStack(scaleOutputs, ROOT, log));
      log(`scale checks: ${failed ? "FAILED" : "passed"} in ${seconds(testStart)}`);
    } else {
      const [cmd, ...args] = testClientArgv(apiUrl, models);
      const client = spawnSync(cmd, args, {
        cwd: ROOT,
        env: { ...process.env, ...(apiKey ? { ODAPI_API_KEY: apiKey } : {}) },
        stdio: ["ignore", "inherit", "inherit"],
      });
      log(`test client: exit ${client.status} in ${seconds(testStart)}`);
      failed = client.status !== 0;
    }
  } catch (err) {
    failed = true;
    log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    if (stack) {
      const destroyStart = Date.now();
      try {
        await stack.destroy({ onOutput: (out) => process.stderr.write(out) });
        await stack.workspace.removeStack(stackName);
        log(`destroy + remove: ${seconds(destroyStart)}`);
        rmSync(path.join(ROOT, `Pulumi.${stackName}.yaml`), { force: true });
        if (scaleOutputs) {
          const left = await leftBehind(scaleOutputs, stackName);
          log(left.length ? `LEFT BEHIND after destroy: ${left.join(", ")}` : "nothing left behind");
          if (left.length) failed = true;
        }
      } catch (err) {
        failed = true;
        const pass = envVars.PULUMI_CONFIG_PASSPHRASE
          ? `PULUMI_CONFIG_PASSPHRASE=${envVars.PULUMI_CONFIG_PASSPHRASE} `
          : "";
        log(
          `CLEAN UP BY HAND (resources may still cost money): ${pass}pulumi destroy -s ${stackName} && pulumi stack rm ${stackName}`,
        );
        log(String(err));
      }
    }
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    log(String(err));
    process.exitCode = 1;
  },
);
