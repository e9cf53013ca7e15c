// The scale stack's two security groups: the load balancer takes the listener port from the allowed CIDRs; the
// instances take the gateway port only from the load balancer's group and SSH only from allowedCidrs.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ingressRules } from "../cidrs";

export interface ScaleFirewallArgs {
  vpcId: string;
  adminCidrs: string[];
  apiCidrs: string[];
  listenerPort: number;
  gatewayPort: number;
  tags: Record<string, string>;
}

const ANYWHERE = { cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] };

export class ScaleFirewall extends pulumi.ComponentResource {
  readonly albGroupId: pulumi.Output<string>;
  readonly instanceGroupId: pulumi.Output<string>;

  constructor(name: string, args: ScaleFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("odapi:infra:ScaleFirewall", name, {}, opts);
    // The same rule builder as the single host: SSH from the admin CIDRs, the API from admin + API CIDRs.
    const [ssh, api] = ingressRules({
      adminCidrs: args.adminCidrs,
      apiCidrs: args.apiCidrs,
      sshPort: 22,
      apiPort: args.listenerPort,
    });
    const alb = new aws.ec2.SecurityGroup(
      `${name}-alb-sg`,
      {
        description: "object-detection-api load balancer: the listener from allowed CIDRs only",
        vpcId: args.vpcId,
        ingress: [{ ...api, description: "API listener (odapi allowedCidrs + apiCidrs)" }],
        tags: { ...args.tags, Name: `${name}-alb-sg` },
      },
      { parent: this },
    );
    const instances = new aws.ec2.SecurityGroup(
      `${name}-instance-sg`,
      {
        description:
          "object-detection-api replicas: the gateway from the load balancer only, SSH from allowed CIDRs",
        vpcId: args.vpcId,
        ingress: [
          ssh,
          {
            protocol: "tcp",
            fromPort: args.gatewayPort,
            toPort: args.gatewayPort,
            securityGroups: [alb.id],
            description: "API-key gateway, from the load balancer only",
          },
        ],
        // Replicas pull Docker images, apt packages and the models (S3).
        egress: [
          {
            protocol: "-1",
            fromPort: 0,
            toPort: 0,
            ...ANYWHERE,
            description: "outbound: Docker Hub, apt, S3",
          },
        ],
        tags: { ...args.tags, Name: `${name}-instance-sg` },
      },
      { parent: this },
    );
    // A separate rule: the two groups refer to each other, which inline rules cannot express without a cycle.
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-alb-to-instances`,
      {
        securityGroupId: alb.id,
        ipProtocol: "tcp",
        fromPort: args.gatewayPort,
        toPort: args.gatewayPort,
        referencedSecurityGroupId: instances.id,
        description: "to the replicas' gateway port only",
      },
      { parent: this },
    );
    this.albGroupId = alb.id;
    this.instanceGroupId = instances.id;
    this.registerOutputs({ albGroupId: this.albGroupId, instanceGroupId: this.instanceGroupId });
  }
}
