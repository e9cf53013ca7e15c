// The deployer's public IP, so the security group can default to "only this machine" (the one network call
// the program makes by itself; it has a deadline and a clear way out).
import { isIP } from "node:net";
import { OdapiError } from "../common/errors";

export const CHECK_IP_URL = "https://checkip.amazonaws.com";
export const CHECK_IP_TIMEOUT_MS = 5000;

const REMEDY =
  "set the addresses allowed to reach SSH and the API yourself: pulumi config set --path 'odapi:allowedCidrs[0]' 203.0.113.7/32";

/** The body of checkip.amazonaws.com is the address and a newline; anything else is an error. */
export function parseCheckIpBody(body: string, url = CHECK_IP_URL): string {
  const ip = body.trim();
  if (!isIP(ip)) {
    throw new OdapiError(
      `${url} answered ${JSON.stringify(body.slice(0, 80))}, not an IP address`,
      REMEDY,
      "config",
    );
  }
  return ip;
}

export async function detectPublicIp(opts: { url?: string; timeoutMs?: number } = {}): Promise<string> {
  const url = opts.url ?? CHECK_IP_URL;
  const timeoutMs = opts.timeoutMs ?? CHECK_IP_TIMEOUT_MS;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
  } catch (err) {
    // AbortSignal.timeout rejects with a DOMException named TimeoutError (not always an Error instance here).
    const name = (err as { name?: unknown } | null)?.name;
    const why = name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : String(err);
    throw new OdapiError(
      `could not detect this machine's public IP from ${url}: ${why}`,
      REMEDY,
      "unreachable",
      {
        cause: err,
      },
    );
  }
  if (!res.ok) {
    throw new OdapiError(
      `could not detect this machine's public IP: ${url} answered HTTP ${res.status}`,
      REMEDY,
      "unreachable",
    );
  }
  return parseCheckIpBody(await res.text(), url);
}
