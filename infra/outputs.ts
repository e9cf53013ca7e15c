// Stack output values (pure): the URLs clients call and the ssh line a human types.
import { isIP } from "node:net";
import { shellJoin } from "../common/shell";

function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** e.g. https://203.0.113.10:8501 (the gateway speaks only TLS), http:// without a gateway. */
export function apiBaseUrl(host: string, port: number, tls = false): string {
  return `${tls ? "https" : "http"}://${hostForUrl(host)}:${port}`;
}

/** model → its TF Serving predict URL. */
export function predictUrls(baseUrl: string, models: string[]): Record<string, string> {
  return Object.fromEntries(models.map((m) => [m, `${baseUrl}/v1/models/${m}:predict`]));
}

/** An ssh line that checks the pinned host key (known_hosts file written from the stack's knownHosts output). */
export function sshCommand(o: {
  user: string;
  host: string;
  port: number;
  keyFile: string;
  knownHostsFile?: string;
}): string {
  const argv = ["ssh", "-i", o.keyFile];
  if (o.port !== 22) argv.push("-p", String(o.port));
  if (o.knownHostsFile)
    argv.push("-o", `UserKnownHostsFile=${o.knownHostsFile}`, "-o", "StrictHostKeyChecking=yes");
  argv.push(`${o.user}@${o.host}`);
  return shellJoin(argv);
}

/** One known_hosts line for the host ("[host]:port" when not on 22). */
export function knownHostsLine(host: string, port: number, hostKey: string): string {
  const name = port === 22 ? host : `[${host}]:${port}`;
  return `${name} ${hostKey.trim().split(" ").slice(0, 2).join(" ")}`;
}
