// prepare-host.sh: makes a fresh Ubuntu host able to run start.sh (Docker; on GPU hosts the NVIDIA stack).
// Idempotent: every step checks first, so a rerun on a ready host changes nothing.

import { shellQuote } from "../common/shell";
import { SCRIPTS } from "./constants";
import { pulledImagesFor } from "./docker-args";
import { ensureGatewayImageLines } from "./gateway-image";
import { failCall, scriptPrologue } from "./script-common";
import type { ServingOptions } from "./types";

/** Seconds to wait for dpkg's lock: cloud-init and unattended-upgrades hold it on a fresh instance. */
export const APT_LOCK_TIMEOUT_SECONDS = 600;
/** Seconds to wait for the Docker daemon after starting it. */
export const DOCKER_START_TIMEOUT_SECONDS = 60;

function gpuCheckLines(): string {
  return `
# GPU host: the Deep Learning Base OSS Nvidia Driver AMI ships the driver, Docker and the container toolkit.
command -v nvidia-smi >/dev/null 2>&1 || ${failCall(
    "no NVIDIA driver on this GPU host (nvidia-smi not found)",
    "use the Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) or install the NVIDIA driver, then rerun",
  )}
nvidia-smi -L >/dev/null 2>&1 || ${failCall(
    "the NVIDIA driver sees no GPU",
    "use a GPU instance type (e.g. g4dn.xlarge); after a driver install, reboot and rerun",
  )}
if ! command -v nvidia-container-cli >/dev/null 2>&1 && ! command -v nvidia-ctk >/dev/null 2>&1; then
  ${failCall(
    "the NVIDIA container toolkit is missing, so docker run --gpus cannot work",
    "install nvidia-container-toolkit, run 'nvidia-ctk runtime configure --runtime=docker' and 'systemctl restart docker', then rerun",
  )}
fi
say "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -n 1)"
`;
}

export function renderPrepareHostScript(opts: ServingOptions): string {
  const q = shellQuote;
  const images = pulledImagesFor(opts);
  const aptGet = `apt-get -qq -o DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT_SECONDS}`;
  return `${scriptPrologue(SCRIPTS.prepareHost, "install Docker if missing and check the host can run TF Serving")}
[[ $(id -u) -eq 0 ]] || ${failCall(`${SCRIPTS.prepareHost} must run as root`, `run: sudo bash ${opts.remoteDir}/${SCRIPTS.prepareHost}`)}

# The tensorflow/serving images are built for x86_64 only; under emulation TensorFlow dies on missing CPU features.
arch=$(uname -m)
[[ $arch == x86_64 ]] || fail "this host's CPU is $arch, but the tensorflow/serving images exist for x86_64 only" \
  "use an x86_64 instance type (e.g. t3.large on CPU, g4dn.xlarge on GPU)"

if command -v docker >/dev/null 2>&1; then
  say "Docker present: $(docker --version)"
else
  command -v apt-get >/dev/null 2>&1 || ${failCall(
    "Docker is missing and this host has no apt-get to install it",
    "install Docker Engine (https://docs.docker.com/engine/install/), then rerun",
  )}
  say "installing Docker (the distribution's docker.io package)"
  export DEBIAN_FRONTEND=noninteractive
  ${aptGet} update || ${failCall("apt-get update failed", "check the host's internet access and /etc/apt/sources.list, then rerun")}
  ${aptGet} install --no-install-recommends docker.io >/dev/null || ${failCall(
    "installing docker.io failed",
    "read apt's message above; install Docker Engine by hand (https://docs.docker.com/engine/install/ubuntu/) and rerun",
  )}
fi

if ! docker info >/dev/null 2>&1; then
  say "starting the Docker daemon"
  systemctl enable --now docker >/dev/null 2>&1 || service docker start >/dev/null 2>&1 || true
  deadline=$((SECONDS + ${DOCKER_START_TIMEOUT_SECONDS}))
  until docker info >/dev/null 2>&1; do
    ((SECONDS < deadline)) || ${failCall(
      `the Docker daemon did not start within ${DOCKER_START_TIMEOUT_SECONDS} s`,
      "check: systemctl status docker; journalctl -u docker",
    )}
    sleep 2
  done
fi
${opts.host === "gpu" ? gpuCheckLines() : ""}
# No mkdir under remoteDir here: this runs as root while the SSH user uploads, and a root-owned models/ would
# lock the upload out. start.sh checks that the dirs and models are there.

# Pull (and build the gateway image) now, while the models upload, so start.sh does not wait for it.
${images
  .map(
    (image) => `if docker image inspect ${q(image)} >/dev/null 2>&1; then
  say ${q(`image ${image} present`)}
else
  say ${q(`pulling ${image}`)}
  docker pull ${q(image)} || ${failCall(
    `could not pull ${image}`,
    "check the host's internet access and free disk space (df -h), then rerun",
  )}
fi`,
  )
  .join("\n")}
${opts.apiKey ? ensureGatewayImageLines() : ""}
say "host ready for TF Serving"
`;
}
