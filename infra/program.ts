// The whole stack: the preflight (preflight.ts) runs to the end before the first resource is registered, then the
// components of the target (own host or EC2) are wired together and the stack outputs returned.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { OdapiError } from "../common/errors";
import { DEFAULT_PUBLIC_PORT, renderServingFiles } from "../serving";
import { ModelDeployment } from "./bootstrap";
import { bundleHash } from "./bundle";
import type { StackConfig } from "./config";
import type { DeployRequest } from "./deploy-command";
import { ServingHost } from "./host";
import { LoginKey } from "./keys";
import { ApiFirewall } from "./network";
import { apiBaseUrl, knownHostsLine, predictUrls, sshCommand } from "./outputs";
import { type AmiInfo, type Preflight, type ProgramDeps, preflight } from "./preflight";
import { deployScaleStack } from "./scale";

/** Stack outputs (the common contract: test-endpoint.mjs reads apiUrl, predictUrls, models and apiKey). */
export interface StackOutputs {
  apiUrl: pulumi.Output<string>;
  predictUrls: pulumi.Output<Record<string, string>>;
  models: string[];
  /** Single-host targets only (aws, host). */
  sshCommand?: pulumi.Output<string>;
  instanceId?: pulumi.Output<string>;
  publicIp?: pulumi.Output<string>;
  /** known_hosts line for the pinned host key (EC2) or the configured one. */
  knownHosts?: pulumi.Output<string>;
  /** Secret; absent when the gateway is off. */
  apiKey?: pulumi.Output<string>;
  /** Secret; only when this stack generated the login key. */
  sshPrivateKey?: pulumi.Output<string>;
  /** 'scale': the generated certificate's CA (absent with an ACM ARN or the HTTP opt-out). */
  caCertificate?: pulumi.Output<string>;
  /** 'scale': the private bucket `odapi publish` fills. */
  modelsBucket?: pulumi.Output<string>;
  /** 'scale': the Auto Scaling group's name and the target group (odapi status --stack scale). */
  autoScalingGroup?: pulumi.Output<string>;
  targetGroupArn?: pulumi.Output<string>;
}

export interface ProgramSecrets {
  /** From odapi:sshPrivateKey (already a Pulumi secret). */
  sshPrivateKey?: pulumi.Output<string>;
}

const NAME = "odapi";

function tagsFor(stack: string): Record<string, string> {
  return { Project: "object-detection-api", Stack: stack, ManagedBy: "pulumi" };
}

/** The serving files and options the deploy step renders, hashed with the models: the deploy's change detector. */
function bundleHashOf(
  cfg: StackConfig,
  pre: Preflight,
  apiKey: pulumi.Output<string> | undefined,
): pulumi.Output<string> {
  return pulumi.output(apiKey).apply((key) =>
    bundleHash({
      servingFiles: renderServingFiles({
        host: pre.hostKind,
        remoteDir: cfg.remoteDir,
        models: pre.models.map((name) => ({ name })),
        apiKey: key,
      }),
      catalog: cfg.models,
      localFiles: pre.localFiles,
      version: cfg.modelVersion,
      gpu: cfg.gpu,
      remoteDir: cfg.remoteDir,
    }),
  );
}

/** What both targets share: the config, the preflight's findings and the deploy step's inputs. */
interface Wiring {
  cfg: StackConfig;
  pre: Preflight;
  deps: ProgramDeps;
  apiKey?: pulumi.Output<string>;
  plan: DeployRequest;
  bundleHash: pulumi.Output<string>;
  /** File names the sshCommand output refers to (the user writes them from the outputs). */
  keyFile: string;
  knownHostsFile: string;
}

/** Target 'host': no AWS resource, the same SSH wait and deploy against the configured server. */
function onOwnHost(w: Wiring, secrets: ProgramSecrets): StackOutputs {
  const { cfg, pre, apiKey } = w;
  const host = cfg.sshHost as string;
  const privateKey = secrets.sshPrivateKey;
  // validateStackConfig already demands it for target 'host'; this only narrows the type.
  if (!privateKey) {
    throw new OdapiError(
      "odapi:sshPrivateKey is required for target 'host'",
      "pulumi config set --secret odapi:sshPrivateKey < ~/.ssh/id_ed25519",
      "config",
    );
  }
  new ModelDeployment(NAME, {
    host,
    port: cfg.sshPort,
    user: cfg.sshUser,
    hostKey: cfg.hostKey,
    privateKey,
    apiKey,
    plan: w.plan,
    bundleHash: w.bundleHash,
    hostIdentity: `${cfg.sshUser}@${host}:${cfg.sshPort}`,
    sshWaitMinutes: cfg.sshWaitMinutes,
    projectDir: w.deps.projectDir,
    tolerateStopFailure: false,
  });
  const apiUrl = apiBaseUrl(host, DEFAULT_PUBLIC_PORT);
  return {
    apiUrl: pulumi.output(apiUrl),
    predictUrls: pulumi.output(predictUrls(apiUrl, pre.models)),
    models: pre.models,
    sshCommand: pulumi.output(
      sshCommand({
        user: cfg.sshUser,
        host,
        port: cfg.sshPort,
        keyFile: w.keyFile,
        knownHostsFile: cfg.hostKey ? w.knownHostsFile : undefined,
      }),
    ),
    instanceId: pulumi.output(`external:${host}`),
    publicIp: pulumi.output(host),
    knownHosts: cfg.hostKey ? pulumi.output(knownHostsLine(host, cfg.sshPort, cfg.hostKey)) : undefined,
    apiKey,
  };
}

/** Target 'aws': firewall, login key, instance with a pinned host key and an Elastic IP, then the deploy. */
function onEc2(w: Wiring, secrets: ProgramSecrets): StackOutputs {
  const { cfg, pre, apiKey } = w;
  const tags = tagsFor(w.deps.stack);
  const firewall = new ApiFirewall(`${NAME}-firewall`, {
    adminCidrs: pre.adminCidrs,
    apiCidrs: cfg.apiCidrs,
    sshPort: 22,
    apiPort: DEFAULT_PUBLIC_PORT,
    tags,
  });
  const login = new LoginKey(`${NAME}-login`, {
    existingKeyName: cfg.keyName,
    existingPrivateKey: secrets.sshPrivateKey,
    tags,
  });
  const host = new ServingHost(`${NAME}-host`, {
    instanceType: cfg.instanceType,
    amiId: (pre.ami as AmiInfo).id,
    rootVolumeGb: pre.rootVolumeGb as number,
    keyName: login.keyName,
    securityGroupId: firewall.securityGroupId,
    availabilityZone: cfg.availabilityZone,
    instanceProfile: cfg.instanceProfile,
    tags,
  });
  new ModelDeployment(NAME, {
    host: host.publicIp,
    port: 22,
    user: cfg.sshUser,
    hostKey: host.hostPublicKey,
    privateKey: login.privateKey,
    apiKey,
    plan: w.plan,
    bundleHash: w.bundleHash,
    hostIdentity: host.instanceId,
    sshWaitMinutes: cfg.sshWaitMinutes,
    projectDir: w.deps.projectDir,
    tolerateStopFailure: true,
  });
  const apiUrl = host.publicIp.apply((ip) => apiBaseUrl(ip, DEFAULT_PUBLIC_PORT));
  return {
    apiUrl,
    predictUrls: apiUrl.apply((url) => predictUrls(url, pre.models)),
    models: pre.models,
    sshCommand: host.publicIp.apply((ip) =>
      sshCommand({
        user: cfg.sshUser,
        host: ip,
        port: 22,
        keyFile: w.keyFile,
        knownHostsFile: w.knownHostsFile,
      }),
    ),
    instanceId: host.instanceId,
    publicIp: host.publicIp,
    knownHosts: pulumi
      .all([host.publicIp, host.hostPublicKey])
      .apply(([ip, key]) => knownHostsLine(ip, 22, key)),
    apiKey,
    sshPrivateKey: login.generated ? login.privateKey : undefined,
  };
}

/** Builds the stack; rejects (before registering anything) when the preflight finds a problem. */
export async function deployObjectDetectionApi(
  cfg: StackConfig,
  secrets: ProgramSecrets,
  deps: ProgramDeps,
): Promise<StackOutputs> {
  const pre = await preflight(cfg, deps);
  const apiKey = cfg.requireApiKey
    ? pulumi.secret(new random.RandomPassword(`${NAME}-api-key`, { length: 40, special: false }).result)
    : undefined;
  const wiring: Wiring = {
    cfg,
    pre,
    deps,
    apiKey,
    plan: {
      remoteDir: cfg.remoteDir,
      catalog: cfg.models,
      modelsDir: pre.modelsDir,
      version: cfg.modelVersion,
      gpu: cfg.gpu,
      prune: cfg.pruneOldVersions,
    },
    bundleHash: bundleHashOf(cfg, pre, apiKey),
    keyFile: `${NAME}-${deps.stack}.pem`,
    knownHostsFile: `${NAME}-${deps.stack}.known_hosts`,
  };
  if (cfg.target === "scale") return onScale(wiring);
  return cfg.target === "host" ? onOwnHost(wiring, secrets) : onEc2(wiring, secrets);
}

/** Target 'scale': infra/scale builds it; the key is required there (config rules), this only narrows the type. */
function onScale(w: Wiring): StackOutputs {
  if (!w.apiKey) {
    throw new OdapiError(
      "odapi:requireApiKey must be true for 'scale'",
      "pulumi config set odapi:requireApiKey true",
      "config",
    );
  }
  const out = deployScaleStack({
    name: NAME,
    cfg: w.cfg,
    pre: w.pre,
    deps: w.deps,
    apiKey: w.apiKey,
    tags: tagsFor(w.deps.stack),
  });
  return { ...out, models: w.pre.models, apiKey: w.apiKey };
}
