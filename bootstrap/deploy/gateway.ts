// Deploy step "check the gateway": the API-key gateway passes a keyed request on to every model (over TLS when it
// serves HTTPS, so the certificate and key it was given are proven to work for the deploy's host name).
import { rootCertificates } from "node:tls";
import { getModelStatus } from "../../client/api";
import { OdapiError } from "../../common/errors";
import type { TlsIdentity } from "../../serving";
import type { SshSession } from "../ssh/session";
import { isTransientWhileStarting, pollDelayMs } from "./wait-ready";

/** The gateway's TLS as the deploy uploaded it, and the name clients reach it by (the deploy's --host). */
export interface GatewayTlsCheck {
  identity: TlsIdentity;
  serverName: string;
}

/**
 * What the check trusts: the public roots and the chain it uploaded itself (a private CA is its own root), over a
 * tunnel whose host key is verified; the certificate must still be valid and name the host clients use.
 */
export function gatewayTrust(identity: TlsIdentity): string {
  return [...rootCertificates, identity.certPem].join("\n");
}

/** How long the API-key gateway may take to pass its first request on (nginx starts in well under a second). */
export const GATEWAY_CHECK_MS = 60_000;

/**
 * The wait talks to TF Serving directly; clients go through the gateway. One status request per model
 * through the gateway's port, with the key, proves that path too (nginx config, key, name resolution to TF Serving).
 */
export async function checkGateway(
  session: SshSession,
  port: number,
  models: string[],
  apiKey: string,
  tls?: GatewayTlsCheck,
): Promise<void> {
  const tunnel = await session.forwardPort(port);
  const url = `${tls ? "https" : "http"}://127.0.0.1:${tunnel.localPort}`;
  const verify = tls ? { caCert: gatewayTrust(tls.identity), tlsServerName: tls.serverName } : {};
  const deadline = Date.now() + GATEWAY_CHECK_MS;
  try {
    for (const model of models) {
      for (let attempt = 0; ; attempt++) {
        try {
          await getModelStatus(url, model, { apiKey, timeoutMs: 10_000, ...verify });
          break;
        } catch (err) {
          if (isTransientWhileStarting(err) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, pollDelayMs(attempt, 250, 2000)));
            continue;
          }
          throw new OdapiError(
            `TF Serving answers, but the API-key gateway on port ${port} does not pass requests on: ${(err as Error).message}`,
            "read the gateway's log (odapi logs, or sudo docker logs odapi-gateway on the host), fix the cause and deploy again",
            "serverError",
            { cause: err },
          );
        }
      }
    }
  } finally {
    await tunnel.close();
  }
}
