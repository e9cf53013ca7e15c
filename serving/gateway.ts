// The API-key gateway: an nginx config that fronts TF Serving, which has no authentication of its own.
// The key lives only in this rendered file (mode 0600, mounted read-only): never on a command line or in env.
import { CONTAINER_REST_PORT, CONTAINERS, DEFAULT_MAX_BODY_BYTES, GATEWAY_CONTAINER_PORT } from "./constants";
import type { ServingOptions } from "./types";
import { validateApiKey } from "./validate";

export const API_KEY_HEADER = "X-API-Key";
/** A first prediction on a CPU host can take long (warmup, graph optimisation): be generous. */
export const PROXY_READ_TIMEOUT_SECONDS = 300;

export interface GatewayParams {
  apiKey: string;
  /** nginx `listen` value: "8080" in the container, "127.0.0.1:<port>" in tests. */
  listen: string;
  /** host:port of TF Serving REST. */
  upstream: string;
  /** DNS server to re-resolve `upstream` (Docker's embedded DNS), so a recreated serving container is found. */
  resolver?: string;
  /** How long a looked-up address is reused; default 10 s. */
  resolverValidSeconds?: number;
  maxBodyBytes: number;
  /** Worker user; nginx's image has `nginx`, a root test run needs `root` to write its temp dir. */
  user: string;
  pidFile: string;
  /** client_body/proxy/fastcgi/uwsgi/scgi temp dirs are created below this. */
  tempDir: string;
  /** "/dev/stdout" in the container; "off" disables the access log. */
  accessLog: string;
  workerProcesses?: number | "auto";
}

/** The parameters for the gateway container on a deployed host. */
export function gatewayParamsForDocker(opts: ServingOptions & { apiKey: string }): GatewayParams {
  return {
    apiKey: opts.apiKey,
    listen: String(GATEWAY_CONTAINER_PORT),
    upstream: `${CONTAINERS.serving}:${CONTAINER_REST_PORT}`,
    resolver: "127.0.0.11",
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    user: "nginx",
    pidFile: "/tmp/nginx.pid",
    tempDir: "/var/cache/nginx",
    accessLog: "/dev/stdout",
    workerProcesses: "auto",
  };
}

// Model segment of the TF Serving REST paths (api_rest.md): /v1/models/<name>[/versions/<n>|/labels/<l>].
const MODEL_PATH = "/v1/models/[A-Za-z0-9][A-Za-z0-9_.-]*(/versions/[0-9]+|/labels/[A-Za-z0-9_-]+)?";

/** A JSON error body like TF Serving's own `{"error": "..."}`, as an nginx string. */
function jsonError(message: string): string {
  return `'{"error": "${message}"}\\n'`;
}

export function renderGatewayConfig(p: GatewayParams): string {
  validateApiKey(p.apiKey);
  const proxy = [
    p.resolver ? `      set $odapi_upstream ${p.upstream};` : undefined,
    // $uri is the decoded, normalised path the location regex approved (no query: TF Serving REST takes none), so
    // TF Serving sees exactly what was checked, not a raw variant of it (`//`, `%0A`, `%2F`).
    `      proxy_pass http://${p.resolver ? "$odapi_upstream" : p.upstream}$uri;`,
  ].filter((line): line is string => line !== undefined);
  const temp = (name: string) =>
    `  ${name}_temp_path ${p.tempDir}/${name === "client_body" ? "client" : name}_temp;`;
  return `# odapi API-key gateway (rendered by serving/gateway.ts). Holds the API key: keep this file mode 0600.
user ${p.user};
worker_processes ${p.workerProcesses ?? 1};
pid ${p.pidFile};
error_log stderr warn;

events {
  worker_connections 1024;
}

http {
  server_tokens off;
  default_type application/json;
  # Headers are not logged, so the key never reaches the log.
  log_format odapi '$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time $upstream_response_time';
  access_log ${p.accessLog === "off" ? "off" : `${p.accessLog} odapi`};
${["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(temp).join("\n")}
  client_max_body_size ${p.maxBodyBytes};
  client_body_buffer_size 1m;
${p.resolver ? `  resolver ${p.resolver} valid=${p.resolverValidSeconds ?? 10}s ipv6=off;\n` : ""}
  server {
    listen ${p.listen};
    server_name _;

    # Checked in the server-rewrite phase, before the body-size check: without the key nothing else is revealed.
    if ($http_x_api_key != "${p.apiKey}") {
      return 401 ${jsonError(`missing or wrong API key: send it in the ${API_KEY_HEADER} header`)};
    }

    error_page 413 @too_large;
    location @too_large {
      return 413 ${jsonError(`request body larger than ${p.maxBodyBytes} bytes`)};
    }

    # Errors nginx makes itself, as JSON like TF Serving's own (its error answers pass through unchanged).
    error_page 502 503 @unavailable;
    location @unavailable {
      return 502 ${jsonError("TF Serving is not reachable behind the gateway (starting or restarting): retry shortly")};
    }
    error_page 504 @upstream_timeout;
    location @upstream_timeout {
      return 504 ${jsonError(`TF Serving did not answer within ${PROXY_READ_TIMEOUT_SECONDS} s`)};
    }

    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    # TF Serving does not need the key; do not pass it on.
    proxy_set_header ${API_KEY_HEADER} "";
    proxy_read_timeout ${PROXY_READ_TIMEOUT_SECONDS}s;

    # Model status and metadata.
    location ~ "^${MODEL_PATH}(/metadata)?\\z" {
      if ($request_method !~ ^(GET|HEAD)$) {
        return 405 ${jsonError("use GET for model status and metadata")};
      }
${proxy.join("\n")}
    }

    # Predictions.
    location ~ "^${MODEL_PATH}:predict\\z" {
      if ($request_method != POST) {
        return 405 ${jsonError("use POST for :predict")};
      }
${proxy.join("\n")}
    }

    # Everything else, Prometheus metrics included, stays private.
    location / {
      return 404 ${jsonError("not found: use GET /v1/models/<name>[/metadata] or POST /v1/models/<name>:predict")};
    }
  }
}
`;
}
