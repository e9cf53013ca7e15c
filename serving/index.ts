// serving/: everything that defines how TensorFlow Serving runs, as pure renderers (no I/O here).
import { renderBatchingConfig } from "./batching-config";
import { FILES, SCRIPTS } from "./constants";
import { gatewayParamsForDocker, renderGatewayConfig } from "./gateway";
import { renderModelsConfig } from "./models-config";
import { renderMonitoringConfig } from "./monitoring-config";
import { renderPrepareHostScript } from "./prepare-host-script";
import { renderStartScript } from "./start-script";
import { renderStopScript } from "./stop-script";
import type { RenderedFile, ServingOptions } from "./types";
import { validateServingOptions } from "./validate";

export { renderBatchingConfig } from "./batching-config";
export {
  CONTAINERS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PUBLIC_PORT,
  FILES,
  PROMETHEUS_PATH,
  SCRIPTS,
  servingImage,
} from "./constants";
export { gatewayRunArgs, networkCreateArgs, servingRunArgs } from "./docker-args";
export { API_KEY_HEADER, type GatewayParams, renderGatewayConfig } from "./gateway";
export { GATEWAY_IMAGE } from "./gateway-image";
export {
  IDLE_SCRIPT,
  IDLE_STATE_FILE,
  IDLE_UNITS,
  IDLE_UNITS_DIR,
  type IdleState,
  type IdleStopOptions,
  type IdleVerdict,
  idleVerdict,
  parseIdleState,
  renderIdleInstallScript,
  renderIdleStopFiles,
  renderIdleStopScript,
  renderIdleStopService,
  renderIdleStopTimer,
} from "./idle-stop";
export { renderModelsConfig } from "./models-config";
export { renderMonitoringConfig } from "./monitoring-config";
export { type ServingPorts, servingPorts } from "./ports";
export { scriptArgv } from "./script-common";
export type {
  BatchingOptions,
  HostKind,
  RenderedFile,
  ServedModel,
  ServingOptions,
  TlsIdentity,
  VersionPolicy,
} from "./types";
export { validateApiKey, validateServingOptions } from "./validate";

const CONFIG_MODE = 0o644;
const SCRIPT_MODE = 0o755;
/** The gateway config holds the API key; the TLS key file is the server's private key. */
const SECRET_MODE = 0o600;

/** Every file the target needs, paths relative to remoteDir. Throws OdapiError on bad options, before rendering. */
export function renderServingFiles(opts: ServingOptions): RenderedFile[] {
  validateServingOptions(opts);
  const files: RenderedFile[] = [
    { path: FILES.modelsConfig, content: renderModelsConfig(opts.models), mode: CONFIG_MODE },
    { path: FILES.monitoringConfig, content: renderMonitoringConfig(), mode: CONFIG_MODE },
  ];
  if (opts.batching) {
    files.push({
      path: FILES.batchingConfig,
      content: renderBatchingConfig(opts.batching),
      mode: CONFIG_MODE,
    });
  }
  if (opts.apiKey) {
    const gateway = renderGatewayConfig(gatewayParamsForDocker({ ...opts, apiKey: opts.apiKey }));
    files.push({ path: FILES.gatewayConfig, content: gateway, mode: SECRET_MODE });
    if (opts.tls) {
      files.push({ path: FILES.gatewayTlsCert, content: opts.tls.certPem, mode: CONFIG_MODE });
      files.push({ path: FILES.gatewayTlsKey, content: opts.tls.keyPem, mode: SECRET_MODE });
    }
  }
  files.push(
    { path: SCRIPTS.prepareHost, content: renderPrepareHostScript(opts), mode: SCRIPT_MODE },
    { path: SCRIPTS.start, content: renderStartScript(opts), mode: SCRIPT_MODE },
    { path: SCRIPTS.stop, content: renderStopScript(), mode: SCRIPT_MODE },
  );
  return files;
}
