// What makes a running container current: its docker argv and the config files it reads at start. start.sh keeps
// a container whose fingerprint is unchanged instead of replacing it, so a redeploy (e.g. a new model version,
// which TF Serving loads by itself) drops no request.
import { createHash } from "node:crypto";
import { renderBatchingConfig } from "./batching-config";
import { gatewayRunArgs, servingRunArgs } from "./docker-args";
import { gatewayParamsForDocker, renderGatewayConfig } from "./gateway";
import { renderModelsConfig } from "./models-config";
import { renderMonitoringConfig } from "./monitoring-config";
import type { ServingOptions } from "./types";

function digest(parts: string[]): string {
  const h = createHash("sha256");
  for (const part of parts) h.update(`${part}\0`);
  return h.digest("hex").slice(0, 32);
}

/** Fingerprint of the TF Serving container: its argv and models/monitoring/batching configs. */
export function servingFingerprint(opts: ServingOptions): string {
  return digest([
    ...servingRunArgs(opts),
    renderModelsConfig(opts.models),
    renderMonitoringConfig(),
    opts.batching ? renderBatchingConfig(opts.batching) : "",
  ]);
}

/**
 * Fingerprint of the gateway container (argv, nginx config with the key, TLS certificate and key: nginx reads them
 * only at start, so a re-issued certificate restarts the gateway); undefined without a key.
 */
export function gatewayFingerprint(opts: ServingOptions): string | undefined {
  const args = gatewayRunArgs(opts);
  if (!args || !opts.apiKey) return undefined;
  return digest([
    ...args,
    renderGatewayConfig(gatewayParamsForDocker({ ...opts, apiKey: opts.apiKey })),
    opts.tls?.certPem ?? "",
    opts.tls?.keyPem ?? "",
  ]);
}
