// start.sh: replaces and starts the TF Serving container (and the gateway), then says where the API listens.
// It returns once the containers run; waiting for AVAILABLE is the caller's job (bootstrap/deploy/wait-ready.ts).
import { TF_SERVING_VERSION } from "../common/pins";
import { shellJoinMultiline, shellQuote } from "../common/shell";
import { CONTAINERS, DOCKER_NETWORK, FILES, PROMETHEUS_PATH, SCRIPTS } from "./constants";
import { configHostDir, gatewayRunArgs, imagesFor, modelsHostDir, servingRunArgs } from "./docker-args";
import { servingPorts } from "./ports";
import { failCall, requireDockerLines, scriptPrologue } from "./script-common";
import type { ServingOptions } from "./types";

/** Seconds start.sh watches a fresh container, so a server that exits at once is reported here, not as a timeout later. */
export const START_SETTLE_SECONDS = 3;

export function renderStartScript(opts: ServingOptions): string {
  const ports = servingPorts(opts);
  const q = shellQuote;
  const gatewayArgs = gatewayRunArgs(opts);
  const images = imagesFor(opts);
  const gatewayFile = `${opts.remoteDir}/${FILES.gatewayConfig}`;
  // The usual reasons docker run fails here: a taken port; on GPU hosts, a missing NVIDIA container toolkit.
  const gpuHint =
    opts.host === "gpu"
      ? "; if docker says 'could not select device driver' the NVIDIA container toolkit is missing (run prepare-host.sh)"
      : "";
  const portHint = (port: number) =>
    `free host port ${port} (see: sudo ss -ltnp 'sport = :${port}') or deploy with another --port, then rerun${gpuHint}`;

  const out: string[] = [
    scriptPrologue(SCRIPTS.start, `start TF Serving ${TF_SERVING_VERSION} (${opts.host}) in Docker`),
  ];
  out.push(requireDockerLines(`${opts.remoteDir}/${SCRIPTS.prepareHost}`));

  out.push(`models_dir=${q(modelsHostDir(opts))}
config_dir=${q(configHostDir(opts))}
for file in ${["models.config", "monitoring.config", ...(opts.batching ? ["batching.config"] : [])].join(" ")}; do
  [[ -f $config_dir/$file ]] || fail "$config_dir/$file is missing" "deploy again so the rendered config is uploaded"
done

# A model is servable once one numeric version dir holds a saved_model.pb (staging dirs are not numeric).
require_model() {
  local version
  for version in "$models_dir/$1"/*/; do
    version=\${version%/}
    if [[ \${version##*/} =~ ^[0-9]+$ && -f $version/saved_model.pb ]]; then
      return 0
    fi
  done
  fail "model $1 has no version directory with a saved_model.pb in $models_dir/$1" "deploy the model first (odapi deploy --models DIR or --catalog NAME)"
}
`);
  for (const model of opts.models) out.push(`require_model ${q(model.name)}`);

  out.push(`
ensure_image() {
  if ! docker image inspect "$1" >/dev/null 2>&1; then
    say "pulling $1"
    docker pull "$1" || fail "could not pull image $1" "check the host's internet access and free disk space (df -h), then rerun"
  fi
}
${images.map((image) => `ensure_image ${q(image)}`).join("\n")}

# Replacing, not reusing, containers makes every run apply the current flags: rerunning is safe.
remove_container() {
  if docker container inspect "$1" >/dev/null 2>&1; then
    docker rm --force "$1" >/dev/null
    say "removed the previous $1 container"
  fi
}
remove_container ${CONTAINERS.gateway}
remove_container ${CONTAINERS.serving}
docker network inspect ${DOCKER_NETWORK} >/dev/null 2>&1 || docker network create ${DOCKER_NETWORK} >/dev/null

# Reports a container that stopped or keeps restarting right after start, with its last log lines.
check_running() {
  sleep ${START_SETTLE_SECONDS}
  local status
  status=$(docker inspect --format '{{.State.Status}} {{.RestartCount}}' "$1" 2>/dev/null || echo missing)
  if [[ $status != "running 0" ]]; then
    docker logs --tail 30 "$1" >&2 || true
    fail "container $1 did not stay up (state: $status)" "read its log above (docker logs $1), fix the cause and rerun"
  fi
}
`);

  if (gatewayArgs) {
    out.push(`[[ -f ${q(gatewayFile)} ]] || ${failCall(`${gatewayFile} is missing`, "deploy again with ODAPI_API_KEY set")}
# The gateway config holds the API key: readable by root only.
chmod 600 ${q(gatewayFile)}
`);
  } else {
    out.push(`# No gateway this time: do not leave an old API key lying around.
rm -f ${q(gatewayFile)}
`);
  }

  out.push(`${shellJoinMultiline(servingRunArgs(opts))} >/dev/null \\
  || ${failCall(`could not start container ${CONTAINERS.serving} (docker's message is above)`, portHint(opts.apiKey ? ports.internalRest : ports.public))}
`);
  if (gatewayArgs) {
    out.push(`${shellJoinMultiline(gatewayArgs)} >/dev/null \\
  || ${failCall(`could not start container ${CONTAINERS.gateway} (docker's message is above)`, portHint(ports.public))}
`);
  }
  out.push(`check_running ${CONTAINERS.serving}`);
  if (gatewayArgs) out.push(`check_running ${CONTAINERS.gateway}`);

  const where = `${ports.publicBind}:${ports.public}`;
  const summary = [
    `started TF Serving ${TF_SERVING_VERSION} (${opts.host}) as container ${CONTAINERS.serving}`,
    gatewayArgs
      ? `REST API on ${where} behind the API-key gateway (${CONTAINERS.gateway}): send header X-API-Key`
      : `REST API on ${where} (no API key)`,
    ...opts.models.map((m) => `  ${m.name}: GET /v1/models/${m.name}  POST /v1/models/${m.name}:predict`),
    `gRPC on 127.0.0.1:${ports.grpc} only; Prometheus metrics at http://127.0.0.1:${ports.internalRest}${PROMETHEUS_PATH}`,
    "models load in the background: GET /v1/models/<name> reports AVAILABLE when ready",
  ];
  out.push(summary.map((line) => `say ${q(line)}`).join("\n"));
  return `${out.join("\n")}\n`;
}
