// The preflight: everything the stack decides before the first resource is registered (local models, the
// deployer's IP, the AMI and the root volume size). A problem here is a config error naming key, value and fix.
import path from "node:path";
import type * as aws from "@pulumi/aws";
import { OdapiError } from "../common/errors";
import type { HostKind } from "../serving";
import { amiQuery, amiRootSizeGb } from "./ami";
import { type LocalModelFile, localModelNames } from "./bundle";
import { hostCidr } from "./cidrs";
import { configError, fullKey, LEARNER_LAB_MAX_VOLUME_GB, type StackConfig } from "./config";
import { autoRootVolumeGb } from "./volume";

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
  /** The default VPC and its default subnets in the AZs that offer the instance type ('scale' only). */
  lookupDefaultSubnets: (instanceType: string) => Promise<DefaultNetwork>;
}

export interface DefaultNetwork {
  vpcId: string;
  /** The VPC's IPv4 block: the load balancer's nodes live in it, so the gateway trusts their X-Forwarded-For. */
  cidrBlock: string;
  /** One default subnet per availability zone. */
  subnetIds: string[];
}

/** An ALB needs subnets in two AZs at least; so does a group that survives the loss of one. */
export const MIN_SCALE_ZONES = 2;

export interface Preflight {
  hostKind: HostKind;
  models: string[];
  localFiles: LocalModelFile[];
  modelsDir?: string;
  adminCidrs: string[];
  ami?: AmiInfo;
  rootVolumeGb?: number;
  /** 'scale' only. */
  network?: DefaultNetwork;
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

export async function preflight(cfg: StackConfig, deps: ProgramDeps): Promise<Preflight> {
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
  if (cfg.target === "scale") result.network = await scaleNetwork(cfg, deps);
  return result;
}

async function scaleNetwork(cfg: StackConfig, deps: ProgramDeps): Promise<DefaultNetwork> {
  const network = await deps.lookupDefaultSubnets(cfg.instanceType);
  if (network.subnetIds.length < MIN_SCALE_ZONES) {
    throw new OdapiError(
      `the default VPC has default subnets in ${network.subnetIds.length} availability zone(s) offering ${cfg.instanceType}; the load balancer and the group need ${MIN_SCALE_ZONES}`,
      `create the missing default subnets (aws ec2 create-default-subnet --availability-zone <az>) or pick an instance type offered in more zones`,
      "config",
    );
  }
  return network;
}
