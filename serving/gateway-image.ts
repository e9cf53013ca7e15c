// The gateway's image: Debian's nginx with its Lua module and lua-cjson, the exact packages the gateway tests run
// (the official nginx image has no Lua, OpenResty's no Debian security updates). Each host builds it from this
// Dockerfile; its tag is the Dockerfile's hash, so a changed recipe is a new image (and a new container fingerprint).
// A present one is rebuilt only when it is GATEWAY_IMAGE_REFRESH_DAYS old, for Debian's security fixes.
import { createHash } from "node:crypto";
import { failCall } from "./script-common";

/** Debian 12: nginx 1.22 with ngx_lua 0.10.23 and lua-cjson 2.1; apt brings the suite's security fixes at build time. */
export const GATEWAY_BASE_IMAGE = "debian:bookworm-slim";
/**
 * nginx; its Lua module for the body reader, predict guard and readiness answer (it pulls the devel kit and
 * lua-resty-core); lua-cjson, the guard's JSON parser with a nesting limit.
 */
export const GATEWAY_PACKAGES = ["nginx-light", "libnginx-mod-http-lua", "lua-cjson"] as const;

/** After the packages: the worker user the rendered config names and nginx's temp dir root. */
export const GATEWAY_IMAGE_SETUP =
  "useradd --system --no-create-home --shell /usr/sbin/nologin nginx && mkdir -p /var/cache/nginx";
/** nginx in the foreground: the container's one process. */
export const GATEWAY_IMAGE_CMD = '["nginx", "-g", "daemon off;"]';

export function renderGatewayDockerfile(): string {
  return `# odapi gateway image (rendered by serving/gateway-image.ts): Debian's nginx with its Lua module and lua-cjson.
FROM ${GATEWAY_BASE_IMAGE}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${GATEWAY_PACKAGES.join(" ")} \\
 && rm -rf /var/lib/apt/lists/* \\
 && ${GATEWAY_IMAGE_SETUP}
CMD ${GATEWAY_IMAGE_CMD}
`;
}

/** The gateway image's name: its tag is the Dockerfile's content hash. */
export const GATEWAY_IMAGE = `odapi-gateway:${createHash("sha256").update(renderGatewayDockerfile()).digest("hex").slice(0, 16)}`;

/** Heredoc delimiter of the Dockerfile inside the host scripts. */
const DOCKERFILE_END = "ODAPI_DOCKERFILE_END";

/**
 * Days after which start.sh rebuilds a present gateway image from a fresh base and fresh packages (`--pull
 * --no-cache`: the layer cache would keep the old packages), so Debian's security fixes for nginx, ngx_lua and
 * lua-cjson reach a long-lived host without a recipe change.
 */
export const GATEWAY_IMAGE_REFRESH_DAYS = 30;

/** The docker build argv for the gateway image: a first build, or a refresh that takes nothing from before (pure). */
export function gatewayBuildArgs(refresh: boolean): string[] {
  return ["docker", "build", ...(refresh ? ["--pull", "--no-cache"] : []), "--tag", GATEWAY_IMAGE, "-"];
}

/**
 * Bash for prepare-host.sh and start.sh: build the gateway image unless this host has it; with \`refresh\`, also
 * rebuild one older than GATEWAY_IMAGE_REFRESH_DAYS, keeping it (with a warning) when the rebuild fails, e.g. offline.
 */
export function ensureGatewayImageLines(opts: { refresh: boolean } = { refresh: false }): string {
  const dockerfile = `<<'${DOCKERFILE_END}'
${renderGatewayDockerfile()}${DOCKERFILE_END}`;
  const refresh = opts.refresh
    ? `  # Docker's Created time, e.g. 2026-11-29T21:00:00.123456789Z; unreadable → treated as new.
  created=$(docker image inspect --format '{{.Created}}' ${GATEWAY_IMAGE} 2>/dev/null) || created=""
  built=$(date -d "$created" +%s 2>/dev/null) || built=$(date +%s)
  age_days=$((($(date +%s) - built) / 86400))
  if ((age_days >= ${GATEWAY_IMAGE_REFRESH_DAYS})); then
    say "image ${GATEWAY_IMAGE} was built $age_days days ago: rebuilding it with Debian's current packages"
    if ! ${gatewayBuildArgs(true).join(" ")} >/dev/null ${dockerfile}
    then
      say "could not rebuild ${GATEWAY_IMAGE} (no internet or disk space?): keeping the one built $age_days days ago"
    fi
  else
    say "image ${GATEWAY_IMAGE} present (built $age_days days ago)"
  fi
`
    : `  say "image ${GATEWAY_IMAGE} present"
`;
  return `if docker image inspect ${GATEWAY_IMAGE} >/dev/null 2>&1; then
${refresh}else
  say "building ${GATEWAY_IMAGE} (Debian's nginx with its Lua module)"
  ${gatewayBuildArgs(false).join(" ")} >/dev/null <<'${DOCKERFILE_END}' || ${failCall(
    `could not build the gateway image ${GATEWAY_IMAGE}`,
    `check the host's internet access (it pulls ${GATEWAY_BASE_IMAGE} and Debian packages) and free disk space (df -h), then rerun`,
  )}
${renderGatewayDockerfile()}${DOCKERFILE_END}
fi`;
}
