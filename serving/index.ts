// serving/: everything that defines how TensorFlow Serving runs, as pure renderers (no I/O here).
import { renderBatchingConfig } from "./batching-config";
import { FILES } from "./constants";
import { renderModelsConfig } from "./models-config";
import { renderMonitoringConfig } from "./monitoring-config";
import type { RenderedFile, ServingOptions } from "./types";
import { validateServingOptions } from "./validate";

export {
  CONTAINERS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PUBLIC_PORT,
  FILES,
  GATEWAY_IMAGE,
  PROMETHEUS_PATH,
  SCRIPTS,
  servingImage,
  TF_SERVING_VERSION,
} from "./constants";
export { type ServingPorts, servingPorts } from "./ports";
export type {
  BatchingOptions,
  HostKind,
  RenderedFile,
  ServedModel,
  ServingOptions,
  VersionPolicy,
} from "./types";
export { validateApiKey, validateModelName, validateServingOptions } from "./validate";

/** Every file the target needs, paths relative to remoteDir. Throws OdapiError on bad options, before rendering. */
export function renderServingFiles(opts: ServingOptions): RenderedFile[] {
  validateServingOptions(opts);
  const files: RenderedFile[] = [
    { path: FILES.modelsConfig, content: renderModelsConfig(opts.models), mode: 0o644 },
    { path: FILES.monitoringConfig, content: renderMonitoringConfig(), mode: 0o644 },
  ];
  if (opts.batching) {
    files.push({ path: FILES.batchingConfig, content: renderBatchingConfig(opts.batching), mode: 0o644 });
  }
  return files;
}
