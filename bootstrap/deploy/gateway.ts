// Deploy step "check the gateway": the API-key gateway passes a keyed request on to every model.
import { getModelStatus } from "../../client/api";
import { OdapiError } from "../../common/errors";
import type { SshSession } from "../ssh/session";
import { isTransientWhileStarting, pollDelayMs } from "./wait-ready";

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
): Promise<void> {
  const tunnel = await session.forwardPort(port);
  const url = `http://127.0.0.1:${tunnel.localPort}`;
  const deadline = Date.now() + GATEWAY_CHECK_MS;
  try {
    for (const model of models) {
      for (let attempt = 0; ; attempt++) {
        try {
          await getModelStatus(url, model, { apiKey, timeoutMs: 10_000 });
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
