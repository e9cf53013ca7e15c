// Pulumi program entry (Pulumi.yaml → package.json "main"): typed config, checked before anything is created,
// then the components in infra/. Stack outputs follow the project's common contract.
import * as pulumi from "@pulumi/pulumi";
import { isOdapiError } from "./common/errors";
import { loadStackConfig } from "./infra/config";
import { realDeps } from "./infra/deps";
import { deployObjectDetectionApi, type StackOutputs } from "./infra/program";

/** Pulumi prints a RunError without a stack trace: for our own errors the user sees the problem and the fix. */
function asRunError(err: unknown): never {
  if (isOdapiError(err)) throw new pulumi.RunError(`${err.message}\n  fix: ${err.remedy}`);
  throw err;
}

let stack: Promise<StackOutputs>;
try {
  const config = loadStackConfig(pulumi.runtime.getConfig, process.env);
  // The odapi namespace's secrets, read only when set.
  const secrets = new pulumi.Config();
  const sshPrivateKey = config.hasSshPrivateKey ? secrets.requireSecret("sshPrivateKey") : undefined;
  const ownCert = config.hasTlsCert && config.hasTlsKey;
  stack = deployObjectDetectionApi(
    config,
    {
      sshPrivateKey,
      ...(ownCert
        ? { tlsCert: secrets.requireSecret("tlsCert"), tlsKey: secrets.requireSecret("tlsKey") }
        : {}),
    },
    realDeps(),
  ).catch(asRunError);
} catch (err) {
  asRunError(err);
}

// A failed preflight surfaces through apiUrl only, so Pulumi reports it once instead of once per output.
const out = <K extends keyof StackOutputs>(key: K) =>
  pulumi.output(
    stack.then(
      (s) => s[key],
      () => undefined,
    ),
  );

export const apiUrl = pulumi.output(stack.then((s) => s.apiUrl));
export const predictUrls = out("predictUrls");
export const models = out("models");
export const sshCommand = out("sshCommand");
export const instanceId = out("instanceId");
export const publicIp = out("publicIp");
export const knownHosts = out("knownHosts");
export const apiKey = out("apiKey");
export const sshPrivateKey = out("sshPrivateKey");
export const caCertificate = out("caCertificate");
export const sshUser = out("sshUser");
export const remoteDir = out("remoteDir");
// The cost guard (EC2 stacks): what the instance costs per hour and when it stops itself.
export const region = out("region");
export const instanceType = out("instanceType");
export const hourlyCostUsd = out("hourlyCostUsd");
export const hourlyCost = out("hourlyCost");
export const idleStopMinutes = out("idleStopMinutes");
export const idleStop = out("idleStop");
export const modelsBucket = out("modelsBucket");
export const autoScalingGroup = out("autoScalingGroup");
export const targetGroupArn = out("targetGroupArn");
