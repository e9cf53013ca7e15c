// The security group's ingress rules (pure): SSH and the REST port only, gRPC never. CIDR parsing is common/cidr.
import { isIP } from "node:net";
import { isWorldCidr, parseCidr } from "../common/cidr";

export { type Cidr, isWorldCidr, parseCidr } from "../common/cidr";

/** The single-address block for an IP: /32 (IPv4) or /128 (IPv6). */
export function hostCidr(ip: string): string {
  return isIP(ip) === 6 ? `${ip}/128` : `${ip}/32`;
}

export interface IngressRule {
  protocol: "tcp";
  fromPort: number;
  toPort: number;
  cidrBlocks: string[];
  ipv6CidrBlocks: string[];
  description: string;
}

export interface IngressPlan {
  /** Who may reach SSH and the API. */
  adminCidrs: string[];
  /** Who may additionally reach the API only. */
  apiCidrs: string[];
  sshPort: number;
  apiPort: number;
}

const TF_SERVING_GRPC_PORT = 8500;

function split(cidrs: string[]): { v4: string[]; v6: string[] } {
  const unique = [...new Set(cidrs)];
  return {
    v4: unique.filter((c) => parseCidr(c)?.version === 4),
    v6: unique.filter((c) => parseCidr(c)?.version === 6),
  };
}

/** Ingress rules: SSH from the admin CIDRs only; the API port from admin + API CIDRs. Throws on unsafe plans. */
export function ingressRules(plan: IngressPlan): IngressRule[] {
  if (plan.adminCidrs.some(isWorldCidr))
    throw new Error("ingressRules: SSH must never be open to 0.0.0.0/0 or ::/0");
  if (plan.apiPort === TF_SERVING_GRPC_PORT || plan.sshPort === TF_SERVING_GRPC_PORT) {
    throw new Error("ingressRules: port 8500 (TF Serving gRPC, no auth) is never opened");
  }
  const ssh = split(plan.adminCidrs);
  const api = split([...plan.adminCidrs, ...plan.apiCidrs]);
  return [
    {
      protocol: "tcp",
      fromPort: plan.sshPort,
      toPort: plan.sshPort,
      cidrBlocks: ssh.v4,
      ipv6CidrBlocks: ssh.v6,
      description: "SSH for the deployer (odapi allowedCidrs)",
    },
    {
      protocol: "tcp",
      fromPort: plan.apiPort,
      toPort: plan.apiPort,
      cidrBlocks: api.v4,
      ipv6CidrBlocks: api.v6,
      description: "TF Serving REST API (odapi allowedCidrs + apiCidrs)",
    },
  ];
}
