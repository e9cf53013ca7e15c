// Pinned versions, names, ports and in-container paths: the one place each of them is decided.
import { TF_SERVING_VERSION } from "../common/pins";
import type { HostKind } from "./types";

export const SCRIPTS = { prepareHost: "prepare-host.sh", start: "start.sh", stop: "stop.sh" } as const;
/** Where the gateway container sees its TLS certificate chain and key. */
export const GATEWAY_TLS_PATHS = {
  cert: "/etc/nginx/odapi-tls.crt",
  key: "/etc/nginx/odapi-tls.key",
} as const;
/** The gateway's keyless readiness path (200 only when every model has an AVAILABLE version): load balancers probe it. */
export const HEALTH_PATH = "/healthz";
export const CONTAINERS = { serving: "odapi-serving", gateway: "odapi-gateway" } as const;
/** User-defined bridge network: the gateway reaches TF Serving on it, not through a host port. */
export const DOCKER_NETWORK = "odapi-net";
/**
 * The network's own block (not 172.31/16, the default VPC, nor Docker's first pools), with dynamic addresses only in
 * its upper half: TF Serving keeps one fixed address across restarts and recreation, so the gateway can hold
 * kept-alive connections to it (nginx 1.22–1.27.2 resolve an upstream block's names only at start).
 */
export const DOCKER_SUBNET = {
  subnet: "172.29.85.0/24",
  dynamicRange: "172.29.85.128/25",
  servingIp: "172.29.85.10",
} as const;

/** Paths relative to remoteDir. */
export const FILES = {
  modelsConfig: "config/models.config",
  monitoringConfig: "config/monitoring.config",
  batchingConfig: "config/batching.config",
  gatewayConfig: "config/gateway.conf",
  gatewayTlsCert: "config/gateway-tls.crt",
  gatewayTlsKey: "config/gateway-tls.key",
} as const;

/** Where the host dirs appear inside the serving container (both mounted read-only). */
export const CONTAINER_MODELS_DIR = "/models";
export const CONTAINER_CONFIG_DIR = "/config";

/** TF Serving's own ports inside its container. */
export const CONTAINER_REST_PORT = 8501;
export const CONTAINER_GRPC_PORT = 8500;
/** nginx listens here inside its container (unprivileged, so it never needs CAP_NET_BIND_SERVICE). */
export const GATEWAY_CONTAINER_PORT = 8080;

export const DEFAULT_PUBLIC_PORT = 8501;
/** Host loopback port for TF Serving REST when the gateway holds the public port. */
export const DEFAULT_INTERNAL_REST_PORT = 18501;
export const DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024;
/** How often TF Serving re-reads models.config, so a changed model list needs no restart. */
export const MODEL_CONFIG_POLL_SECONDS = 60;
export const PROMETHEUS_PATH = "/monitoring/prometheus/metrics";
/** TF Serving's REST deadline (default 30 s): a request with many images on a small CPU host can need more. */
export const REST_API_TIMEOUT_MS = 120_000;

export function servingImage(host: HostKind): string {
  return host === "gpu"
    ? `tensorflow/serving:${TF_SERVING_VERSION}-gpu`
    : `tensorflow/serving:${TF_SERVING_VERSION}`;
}
