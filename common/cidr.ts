// CIDR block parsing (pure), shared by the security group rules (infra) and the gateway's trusted proxies (serving).
import { isIP } from "node:net";

export interface Cidr {
  address: string;
  prefix: number;
  version: 4 | 6;
}

/** Parses "a.b.c.d/n" or "x::y/n"; undefined when it is not a CIDR block. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const version = isIP(m[1]);
  const prefix = Number(m[2]);
  if (version === 4 && prefix <= 32) return { address: m[1], prefix, version: 4 };
  if (version === 6 && prefix <= 128) return { address: m[1], prefix, version: 6 };
  return undefined;
}

/** A /0 block: the whole IPv4 or IPv6 internet. */
export function isWorldCidr(text: string): boolean {
  return parseCidr(text)?.prefix === 0;
}
