// The whole stack: the preflight (preflight.ts) runs to the end before the first resource is registered, then the
// components of the target (own host or EC2) are wired together and the stack outputs returned.
import { isIP } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { idleRuleText } from "../bootstrap/aws/idle-rule";
import { formatHourly, hourlyPrice } from "../bootstrap/aws/prices";
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
import { ApiCertificate } from "./tls";

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
  /** PEM of the private CA that signed the API's certificate (clients: --ca-cert, curl --cacert); absent without a gateway, with odapi:tlsCert, or ('scale') with an ACM ARN or the HTTP opt-out. */
  caCertificate?: pulumi.Output<string>;
  /** Single host: login user and dir on the host (odapi status --stack reads the idle state there). */
  sshUser?: string;
  remoteDir?: string;
  /** EC2 only: what odapi status/start --stack need, and the cost guard said at the end of `pulumi up`. */
  region?: string;
  instanceType?: string;
  /** On-demand USD per hour from odapi's dated table (absent: the table has no price for the type/region). */
  hourlyCostUsd?: number;
  /** The price in words, with its source and date. */
  hourlyCost?: string;
  idleStopMinutes?: number;
  /** The idle auto-stop rule in words. */
  idleStop?: string;
  /** 'scale': the private bucket `odapi publish` fills. */
  modelsBucket?: pulumi.Output<string>;
  /** 'scale': the Auto Scaling group's name and the target group (odapi status --stack scale). */
  autoScalingGroup?: pulumi.Output<string>;
  targetGroupArn?: pulumi.Output<string>;
}

export interface ProgramSecrets {
  /** From odapi:sshPrivateKey (already a Pulumi secret). */
  sshPrivateKey?: pulumi.Output<string>;
  /** From odapi:tlsCert / odapi:tlsKey (secrets): the user's own certificate for the gateway. */
  tlsCert?: pulumi.Output<string>;
  tlsKey?: pulumi.Output<string>;
}

/** The gateway's certificate and key as the deploy step gets them, and the CA clients trust (own certs: none). */
interface ApiTls {
  certPem: pulumi.Output<string>;
  keyPem: pulumi.Output<string>;
  caCertificate?: pulumi.Output<string>;
}

/**
 * HTTPS for the gateway: the user's own certificate, or the stack's private CA and a certificate for the host's
 * address (IP SAN for an address, DNS SAN for a name) plus odapi:domain. None without a gateway.
 */
function apiTls(
  w: Wiring,
  secrets: ProgramSecrets,
  address: pulumi.Input<string>,
  addressIsIp: boolean,
): ApiTls | undefined {
  if (!w.apiKey) return undefined;
  if (secrets.tlsCert && secrets.tlsKey) return { certPem: secrets.tlsCert, keyPem: secrets.tlsKey };
  const domain = w.cfg.domain ? [w.cfg.domain] : [];
  const cert = new ApiCertificate(`${NAME}-tls`, {
    ipAddresses: addressIsIp ? [address] : [],
    dnsNames: addressIsIp ? domain : [address, ...domain],
  });
  return { certPem: cert.chainPem, keyPem: cert.privateKeyPem, caCertificate: cert.caCertPem };
}

const NAME = "odapi";

function tagsFor(stack: string): Record<string, string> {
  return { Project: "object-detection-api", Stack: stack, ManagedBy: "pulumi" };
}

/** The serving files and options the deploy step renders, hashed with the models: the deploy's change detector. */
function bundleHashOf(w: Wiring, tls: ApiTls | undefined): pulumi.Output<string> {
  const { cfg, pre } = w;
  return pulumi.all([w.apiKey, tls?.certPem, tls?.keyPem]).apply(([key, certPem, keyPem]) =>
    bundleHash({
      servingFiles: renderServingFiles({
        host: pre.hostKind,
        remoteDir: cfg.remoteDir,
        models: pre.models.map((name) => ({ name })),
        apiKey: key,
        ...(certPem && keyPem ? { tls: { certPem, keyPem } } : {}),
      }),
      catalog: cfg.models,
      localFiles: pre.localFiles,
      version: cfg.modelVersion,
      gpu: cfg.gpu,
      remoteDir: cfg.remoteDir,
      idleStopMinutes: cfg.idleStopMinutes,
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
  const tls = apiTls(w, secrets, host, isIP(host) !== 0);
  new ModelDeployment(NAME, {
    host,
    port: cfg.sshPort,
    user: cfg.sshUser,
    hostKey: cfg.hostKey,
    privateKey,
    apiKey,
    ...(tls ? { tls } : {}),
    plan: w.plan,
    bundleHash: bundleHashOf(w, tls),
    hostIdentity: `${cfg.sshUser}@${host}:${cfg.sshPort}`,
    sshWaitMinutes: cfg.sshWaitMinutes,
    projectDir: w.deps.projectDir,
    tolerateStopFailure: false,
  });
  const apiUrl = apiBaseUrl(host, DEFAULT_PUBLIC_PORT, tls !== undefined);
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
    caCertificate: tls?.caCertificate,
    sshUser: cfg.sshUser,
    remoteDir: cfg.remoteDir,
  };
}

/** The instance's price and idle rule, said at the end of `pulumi up` and read by odapi status/start --stack. */
function costGuardOutputs(cfg: StackConfig): Partial<StackOutputs> {
  const usd = hourlyPrice(cfg.instanceType, cfg.region);
  return {
    region: cfg.region,
    instanceType: cfg.instanceType,
    ...(usd !== undefined ? { hourlyCostUsd: usd } : {}),
    hourlyCost: formatHourly(cfg.instanceType, cfg.region),
    idleStopMinutes: cfg.idleStopMinutes,
    idleStop: idleRuleText(cfg.idleStopMinutes),
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
  // The certificate names the Elastic IP: it stays the same across stop/start, so the certificate stays valid.
  const tls = apiTls(w, secrets, host.publicIp, true);
  new ModelDeployment(NAME, {
    host: host.publicIp,
    port: 22,
    user: cfg.sshUser,
    hostKey: host.hostPublicKey,
    privateKey: login.privateKey,
    apiKey,
    ...(tls ? { tls } : {}),
    plan: w.plan,
    bundleHash: bundleHashOf(w, tls),
    hostIdentity: host.instanceId,
    sshWaitMinutes: cfg.sshWaitMinutes,
    projectDir: w.deps.projectDir,
    tolerateStopFailure: true,
  });
  const apiUrl = host.publicIp.apply((ip) => apiBaseUrl(ip, DEFAULT_PUBLIC_PORT, tls !== undefined));
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
    caCertificate: tls?.caCertificate,
    sshUser: cfg.sshUser,
    remoteDir: cfg.remoteDir,
    ...costGuardOutputs(cfg),
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
      // EC2 only (a config rule refuses it for your own host): 0 removes a timer a former setting installed.
      ...(cfg.target === "aws" ? { idleStopMinutes: cfg.idleStopMinutes } : {}),
    },
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
