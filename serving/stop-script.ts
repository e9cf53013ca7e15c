// stop.sh: removes the odapi containers and network; models and configs stay on disk. Idempotent.
import { CONTAINERS, DOCKER_NETWORK, SCRIPTS } from "./constants";
import { failCall, scriptPrologue } from "./script-common";

export function renderStopScript(): string {
  return `${scriptPrologue(SCRIPTS.stop, "stop and remove the odapi containers (models stay on disk)")}
if ! command -v docker >/dev/null 2>&1; then
  say "docker is not installed: nothing to stop"
  exit 0
fi
docker info >/dev/null 2>&1 || ${failCall(
    "the Docker engine is not running or this user may not use it",
    "start it (sudo systemctl start docker) and run this script as root",
  )}

for container in ${CONTAINERS.gateway} ${CONTAINERS.serving}; do
  if docker container inspect "$container" >/dev/null 2>&1; then
    docker rm --force "$container" >/dev/null
    say "removed $container"
  else
    say "$container is not running"
  fi
done
if docker network inspect ${DOCKER_NETWORK} >/dev/null 2>&1; then
  docker network rm ${DOCKER_NETWORK} >/dev/null
fi
say "stopped"
`;
}
