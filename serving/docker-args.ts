// The exact docker argv for each container, as pure functions: what runs on the host is decided here.
import {
  CONTAINER_CONFIG_DIR,
  CONTAINER_GRPC_PORT,
  CONTAINER_MODELS_DIR,
  CONTAINER_REST_PORT,
  CONTAINERS,
  DOCKER_NETWORK,
  DOCKER_SUBNET,
  FILES,
  GATEWAY_CONTAINER_PORT,
  GATEWAY_TLS_PATHS,
  MODEL_CONFIG_POLL_SECONDS,
  REST_API_TIMEOUT_MS,
  servingImage,
} from "./constants";
import { GATEWAY_IMAGE } from "./gateway-image";
import { hasVersionLabels } from "./models-config";
import { servingPorts } from "./ports";
import type { ServingOptions } from "./types";

/** The registry images a deployment runs; both scripts pull exactly these (the gateway's is built: gateway-image.ts). */
export function pulledImagesFor(opts: ServingOptions): string[] {
  return [servingImage(opts.host)];
}

/** Host dir that holds models/<name>/<version>/. */
export function modelsHostDir(opts: ServingOptions): string {
  return opts.modelsHostDir ?? `${opts.remoteDir}/models`;
}

export function configHostDir(opts: ServingOptions): string {
  return `${opts.remoteDir}/config`;
}

// --mount (not -v): a missing source dir is an error instead of a silently created empty dir.
function readOnlyMount(source: string, target: string): string[] {
  return ["--mount", `type=bind,source=${source},target=${target},readonly`];
}

/** Flags both containers share: restart with the host, bounded logs, no privilege escalation. */
function commonRunFlags(name: string): string[] {
  return [
    "--name",
    name,
    "--detach",
    "--restart",
    "unless-stopped",
    "--network",
    DOCKER_NETWORK,
    "--security-opt",
    "no-new-privileges",
    // Explicit driver: max-size/max-file exist only for json-file/local, whatever the daemon's default is.
    "--log-driver",
    "json-file",
    "--log-opt",
    "max-size=10m",
    "--log-opt",
    "max-file=3",
  ];
}

/** The odapi network on its own block, so TF Serving can have the fixed address the gateway's upstream names. */
export function networkCreateArgs(): string[] {
  return [
    "docker",
    "network",
    "create",
    DOCKER_NETWORK,
    "--subnet",
    DOCKER_SUBNET.subnet,
    // Docker hands out addresses only from here, so the fixed one below it is never taken by another container.
    "--ip-range",
    DOCKER_SUBNET.dynamicRange,
  ];
}

/** `docker run` for TF Serving. Without a gateway its REST port is the public one; gRPC stays on loopback. */
export function servingRunArgs(opts: ServingOptions): string[] {
  const ports = servingPorts(opts);
  const restBind = opts.apiKey ? `127.0.0.1:${ports.internalRest}` : `${ports.publicBind}:${ports.public}`;
  const args = [
    "docker",
    "run",
    ...commonRunFlags(CONTAINERS.serving),
    // The gateway's upstream block names this address (it keeps connections to it alive).
    "--ip",
    DOCKER_SUBNET.servingIp,
    "--publish",
    `${restBind}:${CONTAINER_REST_PORT}`,
    // gRPC has no authentication: reachable from the host (or an SSH tunnel) only.
    "--publish",
    `127.0.0.1:${ports.grpc}:${CONTAINER_GRPC_PORT}`,
    ...readOnlyMount(modelsHostDir(opts), CONTAINER_MODELS_DIR),
    ...readOnlyMount(configHostDir(opts), CONTAINER_CONFIG_DIR),
  ];
  if (opts.host === "gpu") {
    // Two models share one GPU: allocate memory as needed instead of all of it up front.
    args.push("--gpus", "all", "--env", "TF_FORCE_GPU_ALLOW_GROWTH=true");
  }
  // Our own entrypoint and flags: the image's default script adds --model_name/--model_base_path we do not want.
  args.push("--entrypoint", "/usr/bin/tensorflow_model_server", servingImage(opts.host));
  args.push(
    `--port=${CONTAINER_GRPC_PORT}`,
    `--rest_api_port=${CONTAINER_REST_PORT}`,
    `--rest_api_timeout_in_ms=${REST_API_TIMEOUT_MS}`,
    `--model_config_file=${CONTAINER_CONFIG_DIR}/${basename(FILES.modelsConfig)}`,
    `--model_config_file_poll_wait_seconds=${MODEL_CONFIG_POLL_SECONDS}`,
    `--monitoring_config_file=${CONTAINER_CONFIG_DIR}/${basename(FILES.monitoringConfig)}`,
  );
  if (hasVersionLabels(opts.models)) {
    // A label may name a version that is still uploading when models.config is reloaded.
    args.push("--allow_version_labels_for_unavailable_models=true");
  }
  if (opts.batching) {
    args.push(
      "--enable_batching=true",
      `--batching_parameters_file=${CONTAINER_CONFIG_DIR}/${basename(FILES.batchingConfig)}`,
    );
  }
  return args;
}

/** `docker run` for the nginx API-key gateway; undefined when no API key is set. The key is not on this argv. */
export function gatewayRunArgs(opts: ServingOptions): string[] | undefined {
  if (!opts.apiKey) return undefined;
  const ports = servingPorts(opts);
  return [
    "docker",
    "run",
    ...commonRunFlags(CONTAINERS.gateway),
    "--publish",
    `${ports.publicBind}:${ports.public}:${GATEWAY_CONTAINER_PORT}`,
    ...readOnlyMount(`${opts.remoteDir}/${FILES.gatewayConfig}`, "/etc/nginx/nginx.conf"),
    ...(opts.tls
      ? [
          ...readOnlyMount(`${opts.remoteDir}/${FILES.gatewayTlsCert}`, GATEWAY_TLS_PATHS.cert),
          ...readOnlyMount(`${opts.remoteDir}/${FILES.gatewayTlsKey}`, GATEWAY_TLS_PATHS.key),
        ]
      : []),
    GATEWAY_IMAGE,
  ];
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
