// The API-key gateway: an nginx config that fronts TF Serving, which has no authentication of its own.
// The key lives only in this rendered file (mode 0600, mounted read-only): never on a command line or in env.

import { isWorldCidr, parseCidr } from "../common/cidr";
import { OdapiError } from "../common/errors";
import { validateModelName } from "../common/model-name";
import {
  CONTAINER_REST_PORT,
  DEFAULT_MAX_BODY_BYTES,
  DOCKER_SUBNET,
  GATEWAY_CONTAINER_PORT,
  GATEWAY_TLS_PATHS,
  HEALTH_PATH,
} from "./constants";
import {
  BODY_REFUSALS,
  LUA_MODULES,
  LUA_SOCKET_BUFFER_BYTES,
  REFUSED_BODY_LINGER_SECONDS,
  renderBodyReader,
} from "./gateway-body";
import { renderPredictGuard } from "./gateway-guard";
import { HEALTH_STATUS_PREFIX, renderHealthCheck } from "./gateway-health";
import { renderSkeletonScanner } from "./gateway-scan";
import type { ServingOptions } from "./types";
import { validateApiKey } from "./validate";

export const API_KEY_HEADER = "X-API-Key";
/** A first prediction on a CPU host can take long (warmup, graph optimisation): be generous. */
export const PROXY_READ_TIMEOUT_SECONDS = 300;

/** Bounds that keep one client (or a flood of idle sockets) from starving the others. */
export interface GatewayLimits {
  /** Connections per worker: idle keyless sockets must not use them all (each proxied request takes two). */
  workerConnections: number;
  /** Requests in progress per client address. */
  connectionsPerClient: number;
  /** Sustained requests per second per client address, and the burst above it answered at once. */
  requestsPerSecond: number;
  requestBurst: number;
  /** Seconds allowed for the request line and headers, between two body reads, between two response writes. */
  headerTimeoutSeconds: number;
  bodyTimeoutSeconds: number;
  sendTimeoutSeconds: number;
  /** How long an idle keep-alive connection is kept. */
  keepaliveTimeoutSeconds: number;
  /** Seconds from a request's first byte to the end of its predict body: a trickled body is cut while it trickles. */
  bodyTotalSeconds: number;
  /** Predict bodies: deepest nesting of arrays/objects, and most rows in `instances`/`inputs`. */
  maxJsonDepth: number;
  maxInstances: number;
}

export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = {
  workerConnections: 8192,
  connectionsPerClient: 64,
  requestsPerSecond: 200,
  requestBurst: 400,
  headerTimeoutSeconds: 10,
  bodyTimeoutSeconds: 10,
  sendTimeoutSeconds: 30,
  keepaliveTimeoutSeconds: 30,
  bodyTotalSeconds: 120,
  maxJsonDepth: 16,
  maxInstances: 64,
};

export interface GatewayParams {
  apiKey: string;
  /** nginx `listen` value: "8080" in the container, "127.0.0.1:<port>" in tests. */
  listen: string;
  /** host:port of TF Serving REST. */
  upstream: string;
  /** DNS server to look `upstream` up again and again (a new connection each request); unset → kept-alive connections. */
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
  /** Default DEFAULT_GATEWAY_LIMITS (tests shorten the timeouts). */
  limits?: Partial<GatewayLimits>;
  /** Set → the listen port speaks only TLS 1.2/1.3 with this certificate chain and key (paths as nginx sees them). */
  tls?: GatewayTlsFiles;
  /** The models HEALTH_PATH requires AVAILABLE; none → it answers 503. */
  models: string[];
  /**
   * Proxies in front (the scale stack's ALB: the VPC's block) whose X-Forwarded-For names the client, so the
   * per-client limits key on it; unset → the peer address counts and X-Forwarded-For is ignored.
   */
  trustedProxyCidrs?: string[];
}

export interface GatewayTlsFiles {
  certFile: string;
  keyFile: string;
}

/** TLS versions the gateway offers: 1.0 and 1.1 are deprecated (RFC 8996). */
export const GATEWAY_TLS_PROTOCOLS = "TLSv1.2 TLSv1.3";

/** The parameters for the gateway container on a deployed host. */
export function gatewayParamsForDocker(opts: ServingOptions & { apiKey: string }): GatewayParams {
  return {
    apiKey: opts.apiKey,
    listen: String(GATEWAY_CONTAINER_PORT),
    upstream: `${DOCKER_SUBNET.servingIp}:${CONTAINER_REST_PORT}`,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    user: "nginx",
    pidFile: "/tmp/nginx.pid",
    tempDir: "/var/cache/nginx",
    accessLog: "/dev/stdout",
    workerProcesses: "auto",
    ...(opts.tls ? { tls: { certFile: GATEWAY_TLS_PATHS.cert, keyFile: GATEWAY_TLS_PATHS.key } } : {}),
    models: opts.models.map((m) => m.name),
    ...(opts.trustedProxyCidrs ? { trustedProxyCidrs: opts.trustedProxyCidrs } : {}),
  };
}

/** The trusted proxy blocks, normalised; a bad or world-wide block is refused (anyone could then forge a client). */
export function validateTrustedProxyCidrs(cidrs: string[]): string[] {
  return cidrs.map((text) => {
    const cidr = parseCidr(text);
    if (!cidr) {
      throw new OdapiError(
        `trusted proxy ${JSON.stringify(text)} is not a CIDR block`,
        "give the load balancer's network as a.b.c.d/n or x::y/n (e.g. the VPC's 172.31.0.0/16)",
        "config",
      );
    }
    if (isWorldCidr(text)) {
      throw new OdapiError(
        `trusted proxy ${text} trusts every address: any client could choose its own X-Forwarded-For and escape the per-client limits`,
        "trust only the load balancer's network (e.g. the VPC's 172.31.0.0/16)",
        "config",
      );
    }
    return `${cidr.address}/${cidr.prefix}`;
  });
}

/** nginx realip: behind trusted proxies the client is the last untrusted address in X-Forwarded-For. */
function realIpLines(cidrs: string[]): string {
  if (cidrs.length === 0) return "";
  return `  # Behind the load balancer: limits and the log key on the client it names, never on a forged header.
${cidrs.map((c) => `  set_real_ip_from ${c};`).join("\n")}
  real_ip_header X-Forwarded-For;
  real_ip_recursive on;
`;
}

// Model segment of the TF Serving REST paths (api_rest.md): /v1/models/<name>[/versions/<n>|/labels/<l>].
const MODEL_PATH = "/v1/models/[A-Za-z0-9][A-Za-z0-9_.-]*(/versions/[0-9]+|/labels/[A-Za-z0-9_-]+)?";

/** A JSON error body like TF Serving's own `{"error": "..."}`, as an nginx string. */
function jsonError(message: string): string {
  return `'{"error": "${message}"}\\n'`;
}

const NOT_ALLOWED = jsonError("method not allowed: use GET for model status and metadata, POST for :predict");

/** Plain HTTP to the TLS port is nginx's status 497: it gets a JSON answer, and the key it carried is not used. */
const PLAIN_HTTP_ON_TLS = jsonError(
  "this port speaks HTTPS only: use https:// (the API key must never travel in clear text)",
);

function tlsLines(t: GatewayTlsFiles): string {
  return `    ssl_certificate ${t.certFile};
    ssl_certificate_key ${t.keyFile};
    ssl_protocols ${GATEWAY_TLS_PROTOCOLS};
    # Resumed sessions skip a full handshake for keep-alive-less clients; tickets off keeps forward secrecy.
    ssl_session_cache shared:odapi_tls:10m;
    ssl_session_timeout 1h;
    ssl_session_tickets off;
    error_page 497 =400 @plain_http;
    location @plain_http {
      return 400 ${PLAIN_HTTP_ON_TLS};
    }
`;
}

/** An internal location answering a refused predict body with JSON, then closing the connection. */
function refusedBodyLocation(path: string, status: number, message: string): string {
  return `    location = ${path} {
      internal;
      keepalive_timeout 0;
      lingering_time ${REFUSED_BODY_LINGER_SECONDS}s;
      return ${status} ${jsonError(message)};
    }`;
}

/** The upstream block's name: a fixed TF Serving address, reached over kept-alive connections. */
const UPSTREAM_NAME = "odapi_tf_serving";
/** Idle connections to TF Serving each worker keeps for reuse. */
const UPSTREAM_KEEPALIVE = 32;

// A new TCP connection per request costs the gateway ~40 % more CPU per predict (scripts/bench-gateway.ts).
function upstreamBlock(upstream: string): string {
  return `  upstream ${UPSTREAM_NAME} {
    server ${upstream};
    keepalive ${UPSTREAM_KEEPALIVE};
    # Below the servers' own idle timeouts (Node's 5 s): nginx never reuses a connection the server is closing.
    keepalive_timeout 4s;
  }
`;
}

export function renderGatewayConfig(p: GatewayParams): string {
  validateApiKey(p.apiKey);
  // The names go into an nginx string and subrequest paths.
  for (const m of p.models) validateModelName(m);
  const trustedProxies = validateTrustedProxyCidrs(p.trustedProxyCidrs ?? []);
  const l = { ...DEFAULT_GATEWAY_LIMITS, ...p.limits };
  /** proxy_pass to TF Serving with this path (looked up per request with a resolver, else the upstream block). */
  const proxyTo = (path: string) =>
    [
      p.resolver ? `      set $odapi_upstream ${p.upstream};` : undefined,
      `      proxy_pass http://${p.resolver ? "$odapi_upstream" : UPSTREAM_NAME}${path};`,
    ]
      .filter((line): line is string => line !== undefined)
      .join("\n");
  // $uri is the decoded, normalised path the location regex approved (no query: TF Serving REST takes none), so
  // TF Serving sees exactly what was checked, not a raw variant of it (`//`, `%0A`, `%2F`).
  const proxy = proxyTo("$uri");
  // The health check's status subrequests carry the model path after the internal prefix ($1).
  const statusProxy = proxyTo("$1");
  const temp = (name: string) =>
    `  ${name}_temp_path ${p.tempDir}/${name === "client_body" ? "client" : name}_temp;`;
  return `# odapi API-key gateway (rendered by serving/gateway.ts). Holds the API key: keep this file mode 0600.
${LUA_MODULES.map((m) => `load_module ${m};`).join("\n")}
user ${p.user};
worker_processes ${p.workerProcesses ?? 1};
pid ${p.pidFile};
error_log stderr warn;
# Room for every connection a worker may hold (clients and upstream), so the limit is nginx's, not the kernel's.
worker_rlimit_nofile ${2 * l.workerConnections + 64};

events {
  worker_connections ${l.workerConnections};
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
  # A client too slow for the body reader is answered, not a server error to log.
  lua_socket_log_errors off;
  lua_socket_buffer_size ${LUA_SOCKET_BUFFER_BYTES};
  # Once per worker: the predict guard's body scan and JSON check, and the readiness answer.
  init_by_lua_block {
    odapi = {}${renderSkeletonScanner()}${renderPredictGuard(l)}${renderHealthCheck()}  }
  # A silent or trickling client is cut: idle sockets go after the header timeout, slow bodies between reads.
  client_header_timeout ${l.headerTimeoutSeconds}s;
  client_body_timeout ${l.bodyTimeoutSeconds}s;
  send_timeout ${l.sendTimeoutSeconds}s;
  keepalive_timeout ${l.keepaliveTimeoutSeconds}s;
  reset_timedout_connection on;
${realIpLines(trustedProxies)}  # Per client address: requests in progress and request rate (429 as JSON beyond them).
  limit_conn_zone $binary_remote_addr zone=odapi_conn:10m;
  limit_req_zone $binary_remote_addr zone=odapi_req:10m rate=${l.requestsPerSecond}r/s;
  limit_conn_status 429;
  limit_req_status 429;
  # $request_method is empty when the request line did not parse; the raw line ($request) still names it.
  map "$uri $request" $odapi_refused_method {
    "~^/\\.odapi/bad-request CONNECT " 1;
    default 0;
  }
${p.resolver ? `  resolver ${p.resolver} valid=${p.resolverValidSeconds ?? 10}s ipv6=off;\n` : upstreamBlock(p.upstream)}
  server {
    listen ${p.listen}${p.tls ? " ssl" : ""};
    server_name _;
${p.tls ? tlsLines(p.tls) : ""}    # nginx cannot parse CONNECT's request line (400): it is a refused method like TRACE, key or not.
    if ($odapi_refused_method) {
      return 405 ${NOT_ALLOWED};
    }
    # Keyless readiness for load balancers: \`break\` ends the server's rewrite directives, skipping the key check below.
    rewrite ^${HEALTH_PATH}\\z ${HEALTH_STATUS_PREFIX} break;
    # Its status subrequests run these directives again; only they (their main request is ${HEALTH_PATH}) skip the key.
    if ($request_uri ~ "^${HEALTH_PATH}(\\?.*)?\\z") {
      rewrite ^(/\\.odapi/healthz/v1/models/[A-Za-z0-9][A-Za-z0-9_.-]*)\\z $1 break;
    }
    # Checked in the server-rewrite phase, before the body-size check: without the key nothing else is revealed.
    if ($http_x_api_key != "${p.apiKey}") {
      return 401 ${jsonError(`missing or wrong API key: send it in the ${API_KEY_HEADER} header`)};
    }

    limit_conn odapi_conn ${l.connectionsPerClient};
    limit_req zone=odapi_req burst=${l.requestBurst} nodelay;

    # TRACE (refused by nginx before any location) and unknown methods answer like every other refused method.
    error_page 405 @not_allowed;
    location @not_allowed {
      return 405 ${NOT_ALLOWED};
    }
    # A URI, not a named location: a request line without a URI (CONNECT's) cannot be redirected to a name.
    error_page 400 = /.odapi/bad-request;
    location = /.odapi/bad-request {
      internal;
      return 400 ${jsonError("malformed HTTP request")};
    }
    error_page 429 @too_many;
    location @too_many {
      return 429 ${jsonError(`too many requests or connections from this address (${l.requestsPerSecond}/s, ${l.connectionsPerClient} at once): slow down`)};
    }
    error_page 408 @too_slow;
    location @too_slow {
      return 408 ${jsonError(`request not received in time (${l.headerTimeoutSeconds} s for headers, ${l.bodyTimeoutSeconds} s between body reads)`)};
    }
    # The predict-body reader's refusals: each closes the connection (the body's tail is never read as a request).
${refusedBodyLocation(BODY_REFUSALS.tooSlow, 408, `request body not received within ${l.bodyTotalSeconds} s`)}
${refusedBodyLocation(BODY_REFUSALS.stalled, 408, `request body stalled: nothing received for ${l.bodyTimeoutSeconds} s`)}
${refusedBodyLocation(BODY_REFUSALS.lengthRequired, 411, "send the predict body with a Content-Length header (chunked transfer encoding is not accepted)")}

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
${proxy}
    }

    # Predictions: the whole body read within its total time, scanned as it arrives and checked (Lua), then passed on.
    location ~ "^${MODEL_PATH}:predict\\z" {
      if ($request_method != POST) {
        return 405 ${jsonError("use POST for :predict")};
      }
      client_body_buffer_size ${p.maxBodyBytes};
      client_body_in_single_buffer on;
      access_by_lua_block {
        local feed, finish = odapi.skeleton_scanner()${renderBodyReader({ totalSeconds: l.bodyTotalSeconds, gapSeconds: l.bodyTimeoutSeconds }, "feed")}
        local refused = odapi.check_predict(finish())
        if refused then return odapi.refuse(400, refused) end
      }
${proxy}
    }

    # ${HEALTH_PATH}: one status subrequest per model, under the same per-address limits as every other request.
    location = ${HEALTH_STATUS_PREFIX} {
      internal;
      content_by_lua_block {
        odapi.healthz({ ${p.models.map((m) => `"${m}"`).join(", ")} })
      }
    }
    location ~ "^/\\.odapi/healthz(/v1/models/[^/]+)\\z" {
      internal;
${statusProxy}
    }

    # Everything else, Prometheus metrics included, stays private.
    location / {
      return 404 ${jsonError("not found: use GET /v1/models/<name>[/metadata] or POST /v1/models/<name>:predict")};
    }
  }
}
`;
}
