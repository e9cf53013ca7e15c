// The EC2 host: pinned SSH host key (generated here, installed by cloud-init), IMDSv2-only instance with an
// encrypted gp3 root volume, and an Elastic IP that survives Learner Lab's stop/start between sessions.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { renderCloudConfig } from "./user-data";

export interface ServingHostArgs {
  instanceType: string;
  amiId: pulumi.Input<string>;
  rootVolumeGb: number;
  keyName: pulumi.Input<string>;
  securityGroupId: pulumi.Input<string>;
  availabilityZone?: string;
  /** Existing instance profile name (never created here: Learner Lab forbids IAM changes). */
  instanceProfile?: string;
  tags: Record<string, string>;
}

/** Instance settings that are security decisions, kept in one place (and asserted by the tests). */
export const METADATA_OPTIONS = {
  httpEndpoint: "enabled",
  // IMDSv2 only: session tokens defeat SSRF-style credential theft.
  httpTokens: "required",
  // One hop: containers behind Docker's bridge cannot reach the metadata service.
  httpPutResponseHopLimit: 1,
} as const;

/** `systemctl poweroff` on the host means "stopped", never "terminated" (asserted by the tests). */
export const SHUTDOWN_BEHAVIOR = "stop";

export class ServingHost extends pulumi.ComponentResource {
  readonly instanceId: pulumi.Output<string>;
  readonly publicIp: pulumi.Output<string>;
  /** "ssh-ed25519 AAAA…": the key the instance presents, known before it boots. */
  readonly hostPublicKey: pulumi.Output<string>;

  constructor(name: string, args: ServingHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("odapi:infra:ServingHost", name, {}, opts);
    const hostKey = new tls.PrivateKey(`${name}-hostkey`, { algorithm: "ED25519" }, { parent: this });
    // User data carries the host's private key: keep it a secret in the state.
    const userData = pulumi.secret(
      pulumi
        .all([hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh])
        .apply(([privateKeyOpenssh, publicKeyOpenssh]) =>
          renderCloudConfig({ privateKeyOpenssh, publicKeyOpenssh }),
        ),
    );
    const instance = new aws.ec2.Instance(
      `${name}-instance`,
      {
        ami: args.amiId,
        instanceType: args.instanceType,
        keyName: args.keyName,
        vpcSecurityGroupIds: [args.securityGroupId],
        availabilityZone: args.availabilityZone,
        iamInstanceProfile: args.instanceProfile,
        userData,
        // A new host key means a new instance (the old one would keep presenting the old key).
        userDataReplaceOnChange: true,
        metadataOptions: { ...METADATA_OPTIONS },
        // A power-off from the host (the idle auto-stop) stops the instance: disk, models and Elastic IP stay.
        instanceInitiatedShutdownBehavior: SHUTDOWN_BEHAVIOR,
        rootBlockDevice: {
          volumeType: "gp3",
          volumeSize: args.rootVolumeGb,
          encrypted: true,
          deleteOnTermination: true,
          tags: { ...args.tags, Name: `${name}-root` },
        },
        tags: { ...args.tags, Name: name },
      },
      { parent: this },
    );
    const eip = new aws.ec2.Eip(
      `${name}-eip`,
      { domain: "vpc", tags: { ...args.tags, Name: `${name}-eip` } },
      { parent: this },
    );
    const association = new aws.ec2.EipAssociation(
      `${name}-eip-assoc`,
      { instanceId: instance.id, allocationId: eip.allocationId },
      { parent: this },
    );
    this.instanceId = instance.id;
    // Read through the association, so whoever uses the address waits until it points at this instance.
    this.publicIp = pulumi.all([association.publicIp, eip.publicIp]).apply(([assoc, ip]) => assoc || ip);
    this.hostPublicKey = hostKey.publicKeyOpenssh.apply((k) => k.trim());
    this.registerOutputs({
      instanceId: this.instanceId,
      publicIp: this.publicIp,
      hostPublicKey: this.hostPublicKey,
    });
  }
}
