// Target 'scale': the models bucket filled by `odapi publish`, the load balancer, the replica group, and a readiness
// proof (a real detection per model through the load balancer, TLS and key) before `pulumi up` returns.
import path from "node:path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_PUBLIC_PORT } from "../../serving";
import { renderReplicaUserData } from "../../serving/replica-user-data";
import { bundleHash } from "../bundle";
import type { StackConfig } from "../config";
import { predictUrls } from "../outputs";
import type { AmiInfo, DefaultNetwork, Preflight, ProgramDeps } from "../preflight";
import { ModelsBucket } from "./bucket";
import { ScaleFirewall } from "./firewall";
import { ReplicaGroup } from "./group";
import { ApiLoadBalancer } from "./load-balancer";
import {
  acmImportNote,
  albUrl,
  CA_ENV,
  listenerPlan,
  MODELS_PREFIX,
  publishCommandLine,
  readinessCommandLine,
  scheduledActions,
} from "./plan";
import { ModelsReaderProfile } from "./role";

export interface ScaleInputs {
  name: string;
  cfg: StackConfig;
  pre: Preflight;
  deps: ProgramDeps;
  /** Required for 'scale' (the config rules insist): the gateway serves the health path. */
  apiKey: pulumi.Output<string>;
  tags: Record<string, string>;
}

export interface ScaleOutputs {
  apiUrl: pulumi.Output<string>;
  predictUrls: pulumi.Output<Record<string, string>>;
  caCertificate?: pulumi.Output<string>;
  modelsBucket: pulumi.Output<string>;
  autoScalingGroup: pulumi.Output<string>;
  targetGroupArn: pulumi.Output<string>;
}

/** What `odapi publish` sends, as one hash: a change re-runs the publish (and then the readiness proof). */
function modelsHash(cfg: StackConfig, pre: Preflight): string {
  return bundleHash({
    servingFiles: [],
    catalog: cfg.models,
    localFiles: pre.localFiles,
    version: cfg.modelVersion,
    gpu: cfg.gpu,
    remoteDir: MODELS_PREFIX,
  });
}

export function deployScaleStack(s: ScaleInputs): ScaleOutputs {
  const { name, cfg, pre, tags } = s;
  const network = pre.network as DefaultNetwork;
  const listener = listenerPlan(cfg.httpListener);
  if (cfg.httpListener) {
    pulumi.log.warn(
      "odapi:httpListener is true: the API key and the images cross the network unencrypted; prefer HTTPS (odapi:acmCertificateArn, or the generated certificate)",
    );
  }
  const acmNote = acmImportNote(cfg);
  if (acmNote) pulumi.log.warn(acmNote);
  const models = new ModelsBucket(`${name}-models`, { tags });
  const hash = modelsHash(cfg, pre);
  const publish = new command.local.Command(
    `${name}-publish`,
    {
      dir: s.deps.projectDir,
      create: models.bucket.apply((bucket) =>
        publishCommandLine({
          bucket,
          catalog: cfg.models,
          version: cfg.modelVersion,
          preparedDir: path.join(".odapi", s.deps.stack, "models"),
          localModelsDir: pre.modelsDir,
          prune: cfg.pruneOldVersions,
        }),
      ),
      environment: cfg.region ? { AWS_REGION: cfg.region } : {},
      triggers: [models.bucket, hash],
    },
    { parent: models, dependsOn: models.guards },
  );
  const firewall = new ScaleFirewall(`${name}-firewall`, {
    vpcId: network.vpcId,
    adminCidrs: pre.adminCidrs,
    apiCidrs: cfg.apiCidrs,
    listenerPort: listener.port,
    gatewayPort: DEFAULT_PUBLIC_PORT,
    tags,
  });
  const lb = new ApiLoadBalancer(`${name}-lb`, {
    vpcId: network.vpcId,
    subnetIds: network.subnetIds,
    securityGroupId: firewall.albGroupId,
    gatewayPort: DEFAULT_PUBLIC_PORT,
    listener,
    acmCertificateArn: cfg.acmCertificateArn,
    tags,
  });
  const instanceProfile =
    cfg.instanceProfile ??
    new ModelsReaderProfile(`${name}-replica`, { bucketArn: models.arn, prefix: MODELS_PREFIX, tags })
      .profileName;
  const userData = pulumi.all([models.bucket, s.apiKey]).apply(([bucket, apiKey]) =>
    renderReplicaUserData({
      serving: {
        host: pre.hostKind,
        remoteDir: cfg.remoteDir,
        models: pre.models.map((m) => ({ name: m })),
        apiKey,
        // The ALB's nodes: the replica's per-client limits key on the client they name, not on the node.
        trustedProxyCidrs: [network.cidrBlock],
      },
      sync: { bucket, prefix: MODELS_PREFIX, region: cfg.region },
    }),
  );
  const ami = pre.ami as AmiInfo;
  const group = new ReplicaGroup(`${name}-replicas`, {
    instanceType: cfg.instanceType,
    amiId: ami.id,
    rootDeviceName: ami.rootDeviceName,
    rootVolumeGb: pre.rootVolumeGb as number,
    userData,
    securityGroupId: firewall.instanceGroupId,
    instanceProfile,
    keyName: cfg.keyName,
    subnetIds: network.subnetIds,
    targetGroupArn: lb.targetGroupArn,
    resourceLabel: lb.resourceLabel,
    minReplicas: cfg.minReplicas,
    maxReplicas: cfg.maxReplicas,
    targetRequestsPerReplica: cfg.targetRequestsPerReplica,
    warmPool: cfg.warmPool,
    schedules: scheduledActions(cfg),
    after: [publish],
    tags,
  });
  const apiUrl = lb.dnsName.apply((dns) => albUrl(dns, listener));
  const environment: Record<string, pulumi.Input<string>> = { ODAPI_API_KEY: s.apiKey };
  if (lb.caCertPem) environment[CA_ENV] = lb.caCertPem;
  new command.local.Command(
    `${name}-ready`,
    {
      dir: s.deps.projectDir,
      create: apiUrl.apply((url) => readinessCommandLine(url, pre.models, !!lb.caCertPem)),
      environment,
      // A new template or new models: prove it again.
      triggers: [group.launchTemplateVersion, hash],
    },
    { dependsOn: [group, lb.listener, publish] },
  );
  return {
    apiUrl,
    predictUrls: apiUrl.apply((url) => predictUrls(url, pre.models)),
    caCertificate: lb.caCertPem,
    modelsBucket: models.bucket,
    autoScalingGroup: group.groupName,
    targetGroupArn: lb.targetGroupArn,
  };
}
