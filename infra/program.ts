// The whole stack: preflight (config, deployer IP, local models, AMI, volume size) runs to the end before the
// first resource is registered, then the components are wired together and the stack outputs returned.
import path from "node:path";
import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { OdapiError } from "../common/errors";
import { DEFAULT_PUBLIC_PORT, type HostKind, renderServingFiles } from "../serving";
import { amiQuery, amiRootSizeGb } from "./ami";
import { ModelDeployment } from "./bootstrap";
import { bundleHash, type LocalModelFile, localModelNames } from "./bundle";
import { hostCidr } from "./cidrs";
import { configError, fullKey, LEARNER_LAB_MAX_VOLUME_GB, type StackConfig } from "./config";
import type { DeployRequest } from "./deploy-command";
import { ServingHost } from "./host";
import { LoginKey } from "./keys";
import { ApiFirewall } from "./network";
import { apiBaseUrl, knownHostsLine, predictUrls, sshCommand } from "./outputs";
import { autoRootVolumeGb } from "./volume";

/** Stack outputs (the common contract: test-endpoint.mjs reads apiUrl, predictUrls, models and apiKey). */
export interface StackOutputs {
  apiUrl: pulumi.Output<string>;
  predictUrls: pulumi.Output<Record<string, string>>;
  models: string[];
  sshCommand: pulumi.Output<string>;
  instanceId: pulumi.Output<string>;
  publicIp: pulumi.Output<string>;
  /** known_hosts line for the pinned host key (EC2) or the configured one. */
  knownHosts?: pulumi.Output<string>;
  /** Secret; absent when the gateway is off. */
  apiKey?: pulumi.Output<string>;
  /** Secret; only when this stack generated the login key. */
  sshPrivateKey?: pulumi.Output<string>;
}

export interface AmiInfo {
  id: string;
  rootDeviceName?: string;
  blockDeviceMappings?: { deviceName?: string; ebs?: Record<string, string | undefined> }[];
}

/** Everything the program does outside Pulumi resources, injectable for tests. */
export interface ProgramDeps {
  stack: string;
  projectDir: string;
  detectPublicIp: () => Promise<string>;
  scanLocalModels: (dir: string) => Promise<LocalModelFile[]>;
  lookupAmi: (args: aws.ec2.GetAmiArgs) => Promise<AmiInfo>;
  log: (message: string) => void;
  pathExists: (p: string) => Promise<boolean>;
}

export interface ProgramSecrets {
  /** From odapi:sshPrivateKey (already a Pulumi secret). */
  sshPrivateKey?: pulumi.Output<string>;
}

const NAME = "odapi";

interface Preflight {
  hostKind: HostKind;
  models: string[];
  localFiles: LocalModelFile[];
  modelsDir?: string;
  adminCidrs: string[];
  ami?: AmiInfo;
  rootVolumeGb?: number;
}

async function scanModels(cfg: StackConfig, deps: ProgramDeps) {
  if (!cfg.localModelsDir) return { files: [] as LocalModelFile[], dir: undefined };
  const dir = path.resolve(deps.projectDir, cfg.localModelsDir);
  if (!(await deps.pathExists(dir))) {
    throw configError([
      {
        key: fullKey("localModelsDir"),
        value: cfg.localModelsDir,
        rule: `directory ${dir} does not exist`,
        fix: "prepare models first (npx odapi prepare …) or pulumi config rm odapi:localModelsDir",
      },
    ]);
  }
  const files = await deps.scanLocalModels(dir).catch((err: unknown) => {
    if (err instanceof OdapiError) {
      throw new OdapiError(
        `odapi:localModelsDir (${cfg.localModelsDir}): ${err.message}`,
        err.remedy,
        "config",
      );
    }
    throw err;
  });
  if (localModelNames(files).length === 0) {
    throw configError([
      {
        key: fullKey("localModelsDir"),
        value: cfg.localModelsDir,
        rule: "holds no prepared model (<name>/<version>/saved_model.pb)",
        fix: "point it at the directory `odapi prepare` wrote, or pulumi config rm odapi:localModelsDir",
      },
    ]);
  }
  return { files, dir };
}

async function preflight(cfg: StackConfig, deps: ProgramDeps): Promise<Preflight> {
  const hostKind: HostKind = cfg.gpu ? "gpu" : "cpu";
  const local = await scanModels(cfg, deps);
  const localNames = localModelNames(local.files);
  const clash = localNames.filter((n) => cfg.models.includes(n));
  if (clash.length) {
    throw configError([
      {
        key: fullKey("localModelsDir"),
        value: clash,
        rule: "holds models with the same names as catalog models in odapi:models",
        fix: "rename the local models or remove them from odapi:models",
      },
    ]);
  }
  const result: Preflight = {
    hostKind,
    models: [...cfg.models, ...localNames],
    localFiles: local.files,
    modelsDir: local.dir,
    adminCidrs: cfg.allowedCidrs,
  };
  if (cfg.target === "host") return result;

  if (cfg.allowedCidrs.length === 0) {
    const ip = await deps.detectPublicIp();
    result.adminCidrs = [hostCidr(ip)];
    deps.log(
      `odapi:allowedCidrs is empty: SSH and the API accept only this machine's public IP ${ip} ` +
        "(set odapi:allowedCidrs to allow other addresses)",
    );
  }
  const query = amiQuery(hostKind);
  result.ami = await deps.lookupAmi(
    cfg.amiId ? { filters: [{ name: "image-id", values: [cfg.amiId] }], mostRecent: true } : query,
  );
  const amiRootGb = amiRootSizeGb(result.ami);
  const localBytes = local.files.reduce((sum, f) => sum + f.size, 0);
  const auto = autoRootVolumeGb({
    host: hostKind,
    amiRootGb,
    catalogModels: cfg.models.length,
    localModelBytes: localBytes,
  });
  const size = cfg.volumeSizeGb ?? auto;
  if (size < amiRootGb) {
    throw configError([
      {
        key: fullKey("volumeSizeGb"),
        value: size,
        rule: `is smaller than the AMI's ${amiRootGb} GB root snapshot`,
        fix: `pulumi config set odapi:volumeSizeGb ${auto}   (or 0 for automatic sizing)`,
      },
    ]);
  }
  if (cfg.learnerLab && size > LEARNER_LAB_MAX_VOLUME_GB) {
    throw configError([
      {
        key: fullKey("volumeSizeGb"),
        value: size,
        rule: `the automatic size for these models exceeds Learner Lab's ${LEARNER_LAB_MAX_VOLUME_GB} GB`,
        fix: "serve fewer models (odapi:models) or smaller local models",
      },
    ]);
  }
  result.rootVolumeGb = size;
  return result;
}

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

/** Builds the stack; rejects (before registering anything) when the preflight finds a problem. */
export async function deployObjectDetectionApi(
  cfg: StackConfig,
  secrets: ProgramSecrets,
  deps: ProgramDeps,
): Promise<StackOutputs> {
  const pre = await preflight(cfg, deps);
  const tags = tagsFor(deps.stack);
  const port = DEFAULT_PUBLIC_PORT;

  const apiKey = cfg.requireApiKey
    ? pulumi.secret(new random.RandomPassword(`${NAME}-api-key`, { length: 40, special: false }).result)
    : undefined;
  const plan: DeployRequest = {
    remoteDir: cfg.remoteDir,
    catalog: cfg.models,
    modelsDir: pre.modelsDir,
    version: cfg.modelVersion,
    gpu: cfg.gpu,
    prune: cfg.pruneOldVersions,
  };
  const keyFile = `${NAME}-${deps.stack}.pem`;
  const knownHostsFile = `${NAME}-${deps.stack}.known_hosts`;

  if (cfg.target === "host") {
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
      plan,
      bundleHash: bundleHashOf(cfg, pre, apiKey),
      hostIdentity: `${cfg.sshUser}@${host}:${cfg.sshPort}`,
      sshWaitMinutes: cfg.sshWaitMinutes,
      projectDir: deps.projectDir,
      tolerateStopFailure: false,
    });
    const apiUrl = apiBaseUrl(host, port);
    return {
      apiUrl: pulumi.output(apiUrl),
      predictUrls: pulumi.output(predictUrls(apiUrl, pre.models)),
      models: pre.models,
      sshCommand: pulumi.output(
        sshCommand({
          user: cfg.sshUser,
          host,
          port: cfg.sshPort,
          keyFile,
          knownHostsFile: cfg.hostKey ? knownHostsFile : undefined,
        }),
      ),
      instanceId: pulumi.output(`external:${host}`),
      publicIp: pulumi.output(host),
      knownHosts: cfg.hostKey ? pulumi.output(knownHostsLine(host, cfg.sshPort, cfg.hostKey)) : undefined,
      apiKey,
    };
  }

  const firewall = new ApiFirewall(`${NAME}-firewall`, {
    adminCidrs: pre.adminCidrs,
    apiCidrs: cfg.apiCidrs,
    sshPort: 22,
    apiPort: port,
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
    plan,
    bundleHash: bundleHashOf(cfg, pre, apiKey),
    hostIdentity: host.instanceId,
    sshWaitMinutes: cfg.sshWaitMinutes,
    projectDir: deps.projectDir,
    tolerateStopFailure: true,
  });
  const apiUrl = host.publicIp.apply((ip) => apiBaseUrl(ip, port));
  return {
    apiUrl,
    predictUrls: apiUrl.apply((url) => predictUrls(url, pre.models)),
    models: pre.models,
    sshCommand: host.publicIp.apply((ip) =>
      sshCommand({ user: cfg.sshUser, host: ip, port: 22, keyFile, knownHostsFile }),
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
