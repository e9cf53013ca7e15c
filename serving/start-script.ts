// start.sh: replaces and starts the TF Serving container (and the gateway), then says where the API listens.
// It returns once the containers run; waiting for AVAILABLE is the caller's job (bootstrap/deploy/wait-ready.ts).
import { TF_SERVING_VERSION } from "../common/pins";
import { shellJoin, shellJoinMultiline, shellQuote } from "../common/shell";
import {
  CONTAINERS,
  DOCKER_NETWORK,
  DOCKER_SUBNET,
  FILES,
  PROMETHEUS_PATH,
  SCRIPTS,
  servingImage,
} from "./constants";
import { gatewayFingerprint, servingFingerprint } from "./container-fingerprint";
import {
  configHostDir,
  gatewayRunArgs,
  modelsHostDir,
  networkCreateArgs,
  pulledImagesFor,
  servingRunArgs,
} from "./docker-args";
import { ensureGatewayImageLines, GATEWAY_IMAGE } from "./gateway-image";
import { servingPorts } from "./ports";
import { failCall, requireDockerLines, scriptPrologue } from "./script-common";
import type { ServingOptions } from "./types";

/** Seconds start.sh watches a fresh container, so a server that exits at once is reported here, not as a timeout later. */
export const START_SETTLE_SECONDS = 3;
/** Below remoteDir: per container, the id and fingerprint start.sh started it with. */
export const CONTAINER_STATE_DIR = ".containers";

/** The odapi network with its own block (TF Serving's fixed address is in it); one from an older deploy is replaced. */
function networkLines(): string {
  const { subnet } = DOCKER_SUBNET;
  return `subnet=$(docker network inspect ${DOCKER_NETWORK} --format '{{range .IPAM.Config}}{{.Subnet}}{{end}}' 2>/dev/null) || subnet=none
if [[ $subnet != ${subnet} ]]; then
  if [[ $subnet != none ]]; then
    docker network rm ${DOCKER_NETWORK} >/dev/null \\
      || ${failCall(`network ${DOCKER_NETWORK} is in use and cannot be replaced by one on ${subnet}`, `remove the containers attached to it (docker network inspect ${DOCKER_NETWORK}), then rerun`)}
  fi
  ${shellJoin(networkCreateArgs())} >/dev/null \\
    || ${failCall(`could not create network ${DOCKER_NETWORK} on ${subnet}`, `remove the Docker network that overlaps ${subnet} (docker network ls), then rerun`)}
fi`;
}

export function renderStartScript(opts: ServingOptions): string {
  const ports = servingPorts(opts);
  const q = shellQuote;
  const gatewayArgs = gatewayRunArgs(opts);
  const images = pulledImagesFor(opts);
  const gatewayFile = `${opts.remoteDir}/${FILES.gatewayConfig}`;
  const tlsCertFile = `${opts.remoteDir}/${FILES.gatewayTlsCert}`;
  const tlsKeyFile = `${opts.remoteDir}/${FILES.gatewayTlsKey}`;
  const servingFp = servingFingerprint(opts);
  const gatewayFp = gatewayFingerprint(opts);
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
${gatewayArgs ? ensureGatewayImageLines({ refresh: true }) : ""}

# A container started by this script with the same flags and configs, still on the image its tag names now, keeps
# running (replacing it would drop requests: TF Serving loads new model versions itself); any other container of
# that name is replaced, so a refreshed gateway image takes effect.
state_dir=${q(`${opts.remoteDir}/${CONTAINER_STATE_DIR}`)}
mkdir -p "$state_dir"
is_current() {
  local recorded
  recorded=$(cat "$state_dir/$1" 2>/dev/null) || return 1
  [[ \${recorded##* } == "$2" ]] || return 1
  # The id recorded at start, still running, on the image id its tag ($3) names now.
  [[ $(docker inspect --format '{{.Id}} {{.State.Running}} {{.Image}}' "$1" 2>/dev/null) \
    == "\${recorded% *} true $(docker image inspect --format '{{.Id}}' "$3" 2>/dev/null)" ]]
}
remove_container() {
  rm -f "$state_dir/$1"
  if docker container inspect "$1" >/dev/null 2>&1; then
    docker rm --force "$1" >/dev/null
    say "removed the previous $1 container"
  fi
}
${gatewayFp ? `is_current ${CONTAINERS.gateway} ${gatewayFp} ${GATEWAY_IMAGE} || remove_container ${CONTAINERS.gateway}` : `remove_container ${CONTAINERS.gateway}`}
is_current ${CONTAINERS.serving} ${servingFp} ${q(servingImage(opts.host))} || remove_container ${CONTAINERS.serving}
${networkLines()}
started=()

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
  if (gatewayArgs && opts.tls) {
    out.push(`for file in ${q(tlsCertFile)} ${q(tlsKeyFile)}; do
  [[ -f $file ]] || fail "$file is missing" ${q("deploy again so the gateway's certificate and key are uploaded")}
done
# The TLS private key: readable by root only, like the API key.
chmod 600 ${q(tlsKeyFile)}
`);
  } else {
    out.push(`# No TLS this time: do not leave an old private key lying around.
rm -f ${q(tlsCertFile)} ${q(tlsKeyFile)}
`);
  }

  // Started only when not kept above; the new container's id and fingerprint are recorded for the next run.
  const runUnlessKept = (name: string, args: string[], fingerprint: string, hint: string) =>
    `if docker container inspect ${name} >/dev/null 2>&1; then
  say ${q(`${name} is unchanged: kept running`)}
else
  id=$(${shellJoinMultiline(args)}) \\
    || ${failCall(`could not start container ${name} (docker's message is above)`, hint)}
  printf '%s %s\\n' "$id" ${fingerprint} >"$state_dir/${name}"
  started+=(${name})
fi
`;
  out.push(
    runUnlessKept(
      CONTAINERS.serving,
      servingRunArgs(opts),
      servingFp,
      portHint(opts.apiKey ? ports.internalRest : ports.public),
    ),
  );
  if (gatewayArgs && gatewayFp) {
    out.push(runUnlessKept(CONTAINERS.gateway, gatewayArgs, gatewayFp, portHint(ports.public)));
  }
  out.push(`for container in "\${started[@]}"; do check_running "$container"; done`);

  const where = `${ports.publicBind}:${ports.public}`;
  const summary = [
    `started TF Serving ${TF_SERVING_VERSION} (${opts.host}) as container ${CONTAINERS.serving}`,
    gatewayArgs
      ? `REST API on ${where} behind the API-key gateway (${CONTAINERS.gateway}, ${opts.tls ? "HTTPS only" : "plain HTTP"}): send header X-API-Key`
      : `REST API on ${where} (no API key)`,
    ...opts.models.map((m) => `  ${m.name}: GET /v1/models/${m.name}  POST /v1/models/${m.name}:predict`),
    `gRPC on 127.0.0.1:${ports.grpc} only; Prometheus metrics at http://127.0.0.1:${ports.internalRest}${PROMETHEUS_PATH}`,
    "models load in the background: GET /v1/models/<name> reports AVAILABLE when ready",
  ];
  out.push(summary.map((line) => `say ${q(line)}`).join("\n"));
  return `${out.join("\n")}\n`;
}
