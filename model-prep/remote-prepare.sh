#!/usr/bin/env bash
# Prepares one model on the deployed host: download (resumable, sha256 recorded) and extract a catalog model,
# or take a SavedModel already uploaded, then re-export it with prepare.py inside the pinned TensorFlow image.
# Idempotent: an existing version is left alone.
# Usage: remote-prepare.sh REMOTE_DIR NAME SOURCE VERSION IMAGE [PYTHON]
#   SOURCE: the catalog tar.gz URL, or dir:/abs/path of an uploaded SavedModel.
#   PYTHON: run prepare.py with this interpreter (which has TensorFlow) instead of the Docker image.
set -euo pipefail

die() {
  echo "odapi-error: $1 | fix: $2" >&2
  exit "${3:-1}"
}

[[ $# -ge 5 ]] || die "remote-prepare.sh needs REMOTE_DIR NAME SOURCE VERSION IMAGE [PYTHON]" "call it through odapi prepare --runner remote" 2
remote_dir=$1 name=$2 source=$3 version=$4 image=$5 python=${6:-}
[[ $version =~ ^[0-9]+$ ]] || die "version '$version' is not a number" "pass a positive integer version" 2

final="$remote_dir/models/$name/$version"
if [[ -f $final/saved_model.pb ]]; then
  echo "odapi-result: skipped $name $version (already prepared)"
  exit 0
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$remote_dir/models/$name"
# Runs as root (Docker needs it), but what it writes belongs to the owner of remote_dir, so later uploads as
# the SSH user can still add models next to these.
owner=$(stat -c '%u:%g' "$remote_dir")
own() {
  if [[ $(id -u) -eq 0 ]]; then chown "$owner" "$@"; fi
}
own "$remote_dir/models" "$remote_dir/models/$name"

# Sets saved_model to the extracted catalog model; the archive and its sha256 stay cached on the host.
fetch_catalog_model() {
  local url=$1 cache="$remote_dir/.odapi/cache/$name"
  mkdir -p "$cache"
  own "$remote_dir/.odapi" "$remote_dir/.odapi/cache" "$cache"
  command -v curl >/dev/null || die "curl is not installed on the host" "install curl (apt-get install -y curl)" 12
  local archive="$cache/model.tar.gz"
  if [[ ! -f $archive ]]; then
    echo "odapi-step: downloading $name from $url"
    # -C - resumes a partial download left by an earlier interrupted run; a stall of 60 s counts as a failure.
    curl -fL --retry 5 --retry-delay 2 --speed-limit 1 --speed-time 60 -sS -C - -o "$archive.part" "$url" &
    local curl_pid=$! ticks=0
    # Progress every 5 s: the SSH output is line-based, so no carriage-return progress bar.
    while kill -0 "$curl_pid" 2>/dev/null; do
      sleep 0.5
      ticks=$((ticks + 1))
      if ((ticks % 10 == 0)) && [[ -f $archive.part ]]; then
        echo "odapi-step: downloading $name: $(($(stat -c %s "$archive.part") / 1048576)) MiB so far"
      fi
    done
    wait "$curl_pid" ||
      die "download of $name failed from $url" "check the host's internet access, then rerun (the download resumes)" 3
    mv -f "$archive.part" "$archive"
    own "$archive"
  fi
  local sum
  sum=$(sha256sum "$archive" | cut -d' ' -f1)
  if [[ -f $cache/sha256 ]]; then
    [[ $(cat "$cache/sha256") == "$sum" ]] ||
      die "cached download of $name does not match its recorded sha256" "delete $cache on the host and rerun" 13
  else
    echo "$sum" >"$cache/sha256"
    own "$cache/sha256"
  fi
  echo "odapi-step: $name archive sha256 $sum"

  work=$(mktemp -d "$cache/extract.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  tar --no-same-owner -xzf "$archive" -C "$work" ||
    die "the archive of $name is not a valid tar.gz" "delete $cache on the host and rerun" 13
  # mktemp made it root-only: the container runs as the owner and must read it.
  [[ $(id -u) -ne 0 ]] || chown -R "$owner" "$work"
  local model_pb
  model_pb=$(find "$work" -name saved_model.pb -print -quit)
  [[ -n $model_pb ]] || die "the archive of $name holds no saved_model.pb" "check the catalog URL for $name" 13
  saved_model=$(dirname "$model_pb")
}

if [[ $source == dir:* ]]; then
  saved_model=${source#dir:}
  [[ -f $saved_model/saved_model.pb ]] ||
    die "no SavedModel at $saved_model on the host" "upload it again (odapi prepare --runner remote --saved-model DIR)" 9
else
  fetch_catalog_model "$source"
fi

args=(--saved-model "$saved_model" --out "$remote_dir/models" --name "$name" --version "$version"
  --warmup-image "$here/warmup.jpg" --if-exists skip)
echo "odapi-step: re-exporting $name for image-bytes input"
if [[ -n $python ]]; then
  "$python" "$here/prepare.py" "${args[@]}"
  [[ $(id -u) -ne 0 ]] || chown -R "$owner" "$final"
else
  command -v docker >/dev/null || die "Docker is not installed on the host" "install it (sudo apt-get install -y docker.io), or prepare with odapi deploy --catalog NAME, which installs Docker first" 12
  docker info >/dev/null 2>&1 || die "the Docker engine is not running on the host" "start it (systemctl start docker), or run prepare-host.sh (odapi deploy does)" 12
  # Same path inside and outside the container, so every path above stays valid; writes as remote_dir's owner.
  docker run --rm --network none --user "$owner" -v "$remote_dir:$remote_dir" \
    -e HOME=/tmp -e TF_CPP_MIN_LOG_LEVEL=2 "$image" python3 "$here/prepare.py" "${args[@]}"
fi
echo "odapi-result: prepared $name $version"
