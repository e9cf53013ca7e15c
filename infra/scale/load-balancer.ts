// The Application Load Balancer: a target group on the replicas' gateway port whose health check is the keyless
// /healthz (200 only when every model is AVAILABLE), and one listener: HTTPS with the stack's certificate imported
// into ACM (or a given ACM ARN), or the documented plain-HTTP opt-out.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { HEALTH_PATH } from "../../serving/constants";
import { ApiCertificate } from "../tls";
import { ALB_TLS_POLICY, type ListenerPlan, requestCountResourceLabel } from "./plan";

export interface ApiLoadBalancerArgs {
  vpcId: string;
  subnetIds: string[];
  securityGroupId: pulumi.Input<string>;
  gatewayPort: number;
  listener: ListenerPlan;
  /** Use this ACM certificate instead of generating one. */
  acmCertificateArn?: string;
  tags: Record<string, string>;
}

export class ApiLoadBalancer extends pulumi.ComponentResource {
  readonly dnsName: pulumi.Output<string>;
  readonly targetGroupArn: pulumi.Output<string>;
  /** ALBRequestCountPerTarget's resource label. */
  readonly resourceLabel: pulumi.Output<string>;
  /** The generated certificate's CA (PEM); undefined with an ACM ARN or plain HTTP. */
  readonly caCertPem?: pulumi.Output<string>;
  readonly listener: aws.lb.Listener;

  constructor(name: string, args: ApiLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("odapi:infra:ApiLoadBalancer", name, {}, opts);
    const lb = new aws.lb.LoadBalancer(
      `${name}-alb`,
      {
        loadBalancerType: "application",
        internal: false,
        subnets: args.subnetIds,
        securityGroups: [args.securityGroupId],
        // Malformed header fields are dropped here, before the gateway sees them.
        dropInvalidHeaderFields: true,
        // A detection on a small CPU instance can take tens of seconds under load (ALB default: 60 s).
        idleTimeout: 120,
        tags: { ...args.tags, Name: `${name}-alb` },
      },
      { parent: this },
    );
    const tg = new aws.lb.TargetGroup(
      `${name}-tg`,
      {
        vpcId: args.vpcId,
        port: args.gatewayPort,
        protocol: "HTTP",
        targetType: "instance",
        // In-flight requests finish before an instance leaves (refresh, scale-in).
        deregistrationDelay: 60,
        healthCheck: {
          path: HEALTH_PATH,
          protocol: "HTTP",
          matcher: "200",
          interval: 10,
          timeout: 5,
          healthyThreshold: 2,
          unhealthyThreshold: 3,
        },
        tags: { ...args.tags, Name: `${name}-tg` },
      },
      { parent: this },
    );
    let certificateArn: pulumi.Input<string> | undefined;
    if (args.listener.protocol === "HTTPS") {
      if (args.acmCertificateArn) {
        certificateArn = args.acmCertificateArn;
      } else {
        // The SAN is the load balancer's DNS name, known once it exists.
        const cert = new ApiCertificate(`${name}-cert`, { dnsNames: [lb.dnsName] }, { parent: this });
        const imported = new aws.acm.Certificate(
          `${name}-acm`,
          {
            privateKey: cert.privateKeyPem,
            certificateBody: cert.certPem,
            certificateChain: cert.caCertPem,
            tags: { ...args.tags, Name: `${name}-acm` },
          },
          { parent: this },
        );
        certificateArn = imported.arn;
        this.caCertPem = cert.caCertPem;
      }
    }
    this.listener = new aws.lb.Listener(
      `${name}-listener`,
      {
        loadBalancerArn: lb.arn,
        port: args.listener.port,
        protocol: args.listener.protocol,
        sslPolicy: certificateArn ? ALB_TLS_POLICY : undefined,
        certificateArn,
        defaultActions: [{ type: "forward", targetGroupArn: tg.arn }],
        tags: args.tags,
      },
      { parent: this },
    );
    this.dnsName = lb.dnsName;
    this.targetGroupArn = tg.arn;
    this.resourceLabel = pulumi
      .all([lb.arnSuffix, tg.arnSuffix])
      .apply(([lbSuffix, tgSuffix]) => requestCountResourceLabel(lbSuffix, tgSuffix));
    this.registerOutputs({ dnsName: this.dnsName, targetGroupArn: this.targetGroupArn });
  }
}
