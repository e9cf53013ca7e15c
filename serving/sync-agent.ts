// The replica-side sync agent: a script that mirrors the published model versions from S3 into the host's models dir
// (verified, staged, renamed), renders models.config for them, and the systemd units that run it at boot and on a timer.
import { shellQuote } from "../common/shell";
import { MANIFEST_HEADER, manifestsPrefix, normalizePrefix, objectKey } from "./bucket-layout";
import { FILES } from "./constants";
import { renderModelsConfig } from "./models-config";
import { scriptPrologue } from "./script-common";
import { renderTimerUnit } from "./systemd-timer";
import type { VersionPolicy } from "./types";

/** The official AWS CLI v2 image, pinned; the agent runs it with host networking (IMDSv2 hop limit 1, design.md). */
export const AWS_CLI_IMAGE = "amazon/aws-cli:2.32.2";
export const SYNC_SCRIPT = "sync-models.sh";
export const SYNC_UNITS = { service: "odapi-sync.service", timer: "odapi-sync.timer" } as const;
/** The file each synced version dir holds: the manifest it was verified against (also marks it as the agent's own). */
export const SYNCED_MANIFEST = ".odapi-manifest";

export interface SyncAgentOptions {
  bucket: string;
  prefix?: string;
  /** Host dir holding models/ and config/ (the same remoteDir start.sh serves from). */
  remoteDir: string;
  /** Region for the AWS CLI; default: the CLI's own (on EC2 v2 asks the instance metadata). */
  region?: string;
  /** Minutes between timer runs; default 5. */
  intervalMinutes?: number;
  /** Attempts per S3 request before the run gives up (keeping what is on disk); default 6. */
  attempts?: number;
  /** Cap of the doubling delay between attempts, seconds; default 60. */
  maxDelaySeconds?: number;
  /** Which synced versions TF Serving serves, for every model; default the latest one (TF Serving's own default). */
  versionPolicy?: VersionPolicy;
}

/** A valid model name standing in for each synced model in the rendered config block. */
const TEMPLATE_MODEL = "odapi-model-name";

/** One model's `config { … }` block from the models.config renderer, with TEMPLATE_MODEL for the name (pure). */
export function configBlockTemplate(versionPolicy?: VersionPolicy): string {
  const text = renderModelsConfig([{ name: TEMPLATE_MODEL, ...(versionPolicy ? { versionPolicy } : {}) }]);
  return text.split("\n").slice(1, -2).join("\n");
}

/** The docker argv running the pinned CLI; host networking reaches IMDSv2, the models dir is mounted at its own path. */
export function awsCliDockerArgv(modelsDir: string): string[] {
  return [
    "docker",
    "run",
    "--rm",
    "--network",
    "host",
    "-e",
    "AWS_REGION",
    "-e",
    "AWS_DEFAULT_REGION",
    "-e",
    "AWS_ENDPOINT_URL",
    "-v",
    `${modelsDir}:${modelsDir}`,
    AWS_CLI_IMAGE,
  ];
}

export function renderSyncScript(opts: SyncAgentOptions): string {
  const q = shellQuote;
  const prefix = normalizePrefix(opts.prefix);
  const modelsDir = `${opts.remoteDir}/models`;
  return `${scriptPrologue(SYNC_SCRIPT, `mirror the models published to s3://${opts.bucket}/${prefix} into ${modelsDir}`)}
bucket=${q(opts.bucket)}
manifests_prefix=${q(manifestsPrefix(prefix))}
models_prefix=${q(objectKey(prefix, "models/"))}
prefix_root=${q(prefix ? `${prefix}/` : "")}
manifests_rel=\${manifests_prefix#"$prefix_root"}
models_rel=\${models_prefix#"$prefix_root"}
models_dir=${q(modelsDir)}
config_file=${q(`${opts.remoteDir}/${FILES.modelsConfig}`)}
attempts=\${ODAPI_SYNC_ATTEMPTS:-${opts.attempts ?? 6}}
max_delay=\${ODAPI_SYNC_MAX_DELAY:-${opts.maxDelaySeconds ?? 60}}
${opts.region ? `export AWS_REGION=${q(opts.region)}\n` : ""}
# The one AWS CLI invocation: the pinned image on hosts, ODAPI_AWS_CLI (e.g. a local aws) where tests set it.
if [[ -n \${ODAPI_AWS_CLI:-} ]]; then
  read -ra aws <<<"$ODAPI_AWS_CLI"
else
  aws=(${awsCliDockerArgv(modelsDir).map(q).join(" ")})
fi

mkdir -p "$models_dir" "\${config_file%/*}"
# One run at a time: the boot service and the timer may meet.
exec 9>"$models_dir/.odapi-sync.lock"
flock -n 9 || { say "another sync is running; leaving it to finish"; exit 0; }

# Runs the AWS CLI with capped exponential backoff; says in the journal that what is on disk keeps serving.
s3() {
  local try=1 delay=1
  until "\${aws[@]}" "$@"; do
    if ((try >= attempts)); then
      return 1
    fi
    say "S3 request failed (attempt $try of $attempts, aws $1 $2); retrying in \${delay}s, still serving what is on disk" >&2
    sleep "$delay"
    try=$((try + 1))
    delay=$((delay * 2 > max_delay ? max_delay : delay * 2))
  done
}

# One CLI call mirrors the manifests and the files (each CLI start costs a second) into a hidden dir TF Serving never
# reads; a version reaches models/<name>/<version>/ only as hard links, after its manifest checked every file.
mirror="$models_dir/.odapi-mirror"
if ! s3 s3 sync --only-show-errors --delete --exclude '*' --include "$manifests_rel*" --include "$models_rel*" "s3://$bucket/$prefix_root" "$mirror/" >&2; then
  fail "cannot read s3://$bucket/$manifests_prefix after $attempts attempts: nothing changed, the models on disk keep serving" "check the instance role or credentials, the bucket name and the network; the timer retries"
fi

# OpenSSL uses the CPU's SHA extensions (about 7x coreutils' sha256sum here); sha256sum where it is missing.
sha256_of() {
  if command -v openssl >/dev/null; then
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else
    sha256sum "$1" | cut -d' ' -f1
  fi
}

# Checks a staged version against its manifest: every file present with its size and sha256, nothing else kept.
verify_staged() {
  local staging=$1 manifest=$2 sha size path actual
  declare -A listed=()
  while read -r sha size path; do
    [[ $sha == "#"* || -z $sha ]] && continue
    if [[ ! $sha =~ ^[0-9a-f]{64}$ || ! $size =~ ^[0-9]+$ || $path == /* || $path =~ (^|/)\\.\\.(/|$) ]]; then
      echo "malformed manifest line for $path"
      return 1
    fi
    listed[$path]=1
    if [[ ! -f $staging/$path ]]; then
      echo "$path is missing from the bucket"
      return 1
    fi
    if [[ $(stat -c %s "$staging/$path") != "$size" ]]; then
      echo "$path has the wrong size"
      return 1
    fi
    actual=$(sha256_of "$staging/$path")
    if [[ $actual != "$sha" ]]; then
      echo "$path is corrupt (sha256 $actual, manifest says $sha)"
      return 1
    fi
  done <<<"$manifest"
  # Objects without a manifest line (a publish in progress) are not part of this version.
  while IFS= read -r -d '' path; do
    path=\${path#"$staging"/}
    [[ -n \${listed[$path]:-} ]] || rm -f -- "\${staging:?}/$path"
  done < <(find "$staging" -type f -print0)
}

# Brings one published version in: staging dir (non-numeric, TF Serving ignores it), verify, then rename.
sync_version() {
  local model=$1 version=$2 manifest staging live why
  live="$models_dir/$model/$version"
  manifest=$(cat "$mirror/$manifests_rel$model/$version.txt")
  [[ $manifest == "${MANIFEST_HEADER} $model $version"* ]] || { echo "its manifest is not an odapi manifest for $model $version"; return 1; }
  if [[ -f $live/${SYNCED_MANIFEST} && $(cat "$live/${SYNCED_MANIFEST}") == "$manifest" ]]; then
    return 0
  fi
  staging="$models_dir/$model/.sync-$version"
  rm -rf -- "$staging"
  mkdir -p "$staging"
  # Hard links: no second copy on disk, and the CLI replaces mirror files by rename, never in place.
  if [[ -d $mirror/$models_rel$model/$version ]]; then
    cp -al -- "$mirror/$models_rel$model/$version/." "$staging/"
  fi
  if ! why=$(verify_staged "$staging" "$manifest"); then
    rm -rf -- "$staging"
    echo "$why"
    return 1
  fi
  printf '%s\\n' "$manifest" >"$staging/${SYNCED_MANIFEST}"
  if [[ -d $live ]]; then
    rm -rf -- "$models_dir/$model/.old-$version"
    mv -- "$live" "$models_dir/$model/.old-$version"
  fi
  mv -- "$staging" "$live" || { echo "cannot rename $staging to $live"; return 1; }
  rm -rf -- "$models_dir/$model/.old-$version"
  say "$model version $version synced" >&2
}

failures=0
declare -A published=()
for file in "$mirror/$manifests_rel"*/*.txt; do
  [[ $file =~ /([A-Za-z0-9][A-Za-z0-9_.-]*)/([0-9]+)\\.txt$ ]] || continue
  model=\${BASH_REMATCH[1]}
  version=\${BASH_REMATCH[2]}
  published[$model/$version]=1
  if ! why=$(sync_version "$model" "$version"); then
    say "refused $model version $version: $why; the versions on disk keep serving" >&2
    failures=$((failures + 1))
  fi
done

# Prune rule: a version this agent synced goes only once its manifest left the bucket (odapi publish --prune).
if ((\${#published[@]} > 0)); then
  for marker in "$models_dir"/*/*/${SYNCED_MANIFEST}; do
    [[ -f $marker ]] || continue
    dir=\${marker%/*}
    version=\${dir##*/}
    model=\${dir%/*}
    model=\${model##*/}
    if [[ $version =~ ^[0-9]+$ && -z \${published[$model/$version]:-} ]]; then
      mv -- "$dir" "$models_dir/$model/.old-$version"
      rm -rf -- "$models_dir/$model/.old-$version"
      say "removed $model version $version (unpublished)"
    fi
  done
else
  say "no published versions under s3://$bucket/$manifests_prefix; keeping everything on disk"
fi

# models.config lists every model with a servable version; TF Serving polls it, so new models load without a restart.
# Each model's block is renderModelsConfig's (serving/models-config.ts) with the name filled in.
config_block=${q(configBlockTemplate(opts.versionPolicy))}
render_models_config() {
  local model_dir model
  printf 'model_config_list {\\n'
  for model_dir in "$models_dir"/*/; do
    model=\${model_dir%/}
    model=\${model##*/}
    compgen -G "$models_dir/$model/[0-9]*/saved_model.pb" >/dev/null || continue
    printf '%s\\n' "\${config_block//${TEMPLATE_MODEL}/"$model"}"
  done
  printf '}\\n'
}
config=$(render_models_config)
if [[ $config == *"config {"* && ( ! -f $config_file || $(cat "$config_file") != "$config" ) ]]; then
  printf '%s\\n' "$config" >"$config_file.tmp"
  mv -- "$config_file.tmp" "$config_file"
  say "models.config updated"
fi

if ((failures > 0)); then
  fail "$failures published version(s) could not be synced (see above)" "fix the objects in the bucket (republish with odapi publish); the timer retries"
fi
say "in sync with s3://$bucket/$manifests_prefix"
`;
}

/** The boot-time unit: runs the sync after every boot (not only the first), so a restarted replica catches up. */
export function renderSyncService(opts: SyncAgentOptions): string {
  return `[Unit]
Description=odapi: sync published models from s3://${opts.bucket}/${normalizePrefix(opts.prefix)}
Wants=network-online.target
After=network-online.target docker.service

[Service]
Type=oneshot
ExecStart=/bin/bash ${opts.remoteDir}/${SYNC_SCRIPT}
# A large first download may take long; the script's own retries are bounded.
TimeoutStartSec=1h

[Install]
WantedBy=multi-user.target
`;
}

/** The timer: checks for newly published versions every few minutes. */
export function renderSyncTimer(opts: SyncAgentOptions): string {
  const minutes = opts.intervalMinutes ?? 5;
  return renderTimerUnit(
    `odapi: sync published models every ${minutes} min`,
    minutes,
    "RandomizedDelaySec=30",
  );
}
