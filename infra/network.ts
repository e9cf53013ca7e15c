// Firewall for the serving host: SSH and the REST port from the allowed CIDRs only; gRPC 8500 is never opened.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type IngressPlan, ingressRules } from "./cidrs";

export interface ApiFirewallArgs extends IngressPlan {
  vpcId?: pulumi.Input<string>;
  tags: Record<string, string>;
}

export class ApiFirewall extends pulumi.ComponentResource {
  readonly securityGroupId: pulumi.Output<string>;

  constructor(name: string, args: ApiFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("odapi:infra:ApiFirewall", name, {}, opts);
    const sg = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        description: "object-detection-api: SSH and REST from allowed CIDRs only",
        vpcId: args.vpcId,
        ingress: ingressRules(args),
        // The host pulls Docker images and catalog models from the internet.
        egress: [
          {
            protocol: "-1",
            fromPort: 0,
            toPort: 0,
            cidrBlocks: ["0.0.0.0/0"],
            ipv6CidrBlocks: ["::/0"],
            description: "outbound: Docker Hub, Kaggle, apt",
          },
        ],
        tags: { ...args.tags, Name: `${name}-sg` },
      },
      { parent: this },
    );
    this.securityGroupId = sg.id;
    this.registerOutputs({ securityGroupId: this.securityGroupId });
  }
}
