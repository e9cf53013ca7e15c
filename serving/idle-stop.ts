// The idle auto-stop: a script that powers the host off after N minutes without a model request, reading TF
// Serving's Prometheus counters on loopback, and the systemd units that run it every minute. Pure renderers.
import { shellQuote } from "../common/shell";
import { PROMETHEUS_PATH } from "./constants";
import { scriptPrologue } from "./script-common";
import { renderTimerUnit } from "./systemd-timer";
import type { RenderedFile } from "./types";

export const IDLE_SCRIPT = "idle-stop.sh";
export const IDLE_UNITS = { service: "odapi-idle-stop.service", timer: "odapi-idle-stop.timer" } as const;
/** On tmpfs: a boot starts with no state, so a started host waits for its models again before any count. */
export const IDLE_STATE_FILE = "/run/odapi/idle-state";
/**
 * TF Serving's per-model request counter (tensorflow/serving tensorflow_serving/servables/tensorflow/util.cc:
 * Counter "/tensorflow/serving/request_count", labels model_name and status, incremented by RecordModelRequestCount
 * for every predict/classify/regress call); its Prometheus exporter writes the name with ':' for '/'.
 * Status GETs do not count, so health checks do not keep the host up.
 */
export const REQUEST_COUNT_METRIC = ":tensorflow:serving:request_count";

export interface IdleStopOptions {
  /** Power off after this many minutes without a request (> 0). */
  idleMinutes: number;
  /** TF Serving REST on the host's loopback (its metrics and model status are read there, never publicly). */
  restPort: number;
  /** Models that must all have been AVAILABLE once before the idle clock runs. */
  models: string[];
  /** Host dir the script is installed in (beside start.sh). */
  remoteDir: string;
  /** Where the script keeps its state (read by `odapi status`); default IDLE_STATE_FILE. */
  stateFile?: string;
  /** Minutes between checks; default 1. */
  intervalMinutes?: number;
}

/** The script's state file, key=value lines; every time is epoch seconds. */
export interface IdleState {
  /** When every model was first seen AVAILABLE since boot (absent: not yet, the clock does not run). */
  availableSince?: number;
  lastActivity?: number;
  lastCount?: number;
  checkedAt?: number;
  windowSeconds?: number;
  metrics?: "up" | "down";
}

const STATE_KEYS: Record<string, keyof IdleState> = {
  available_since: "availableSince",
  last_activity: "lastActivity",
  last_count: "lastCount",
  checked_at: "checkedAt",
  window_seconds: "windowSeconds",
};

/** Parses the state file the script writes; unknown or malformed lines are skipped (pure). */
export function parseIdleState(text: string): IdleState {
  const state: IdleState = {};
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === "metrics" && (value === "up" || value === "down")) state.metrics = value;
    const field = STATE_KEYS[key];
    if (field && /^\d+$/.test(value)) (state as Record<string, number>)[field] = Number(value);
  }
  return state;
}

export type IdleVerdict =
  | { kind: "waiting-for-models" }
  | { kind: "metrics-down" }
  | { kind: "idle"; idleMinutes: number; stopsInMinutes: number };

/** What the state means at `now` (epoch seconds): idle for X min, stops in Y min, or why the clock is not running. */
export function idleVerdict(state: IdleState, now: number): IdleVerdict {
  if (state.metrics === "down") return { kind: "metrics-down" };
  if (state.availableSince === undefined || state.lastActivity === undefined || !state.windowSeconds)
    return { kind: "waiting-for-models" };
  const idle = Math.max(0, now - state.lastActivity);
  return {
    kind: "idle",
    idleMinutes: Math.floor(idle / 60),
    stopsInMinutes: Math.max(0, Math.ceil((state.windowSeconds - idle) / 60)),
  };
}

export function renderIdleStopScript(opts: IdleStopOptions): string {
  const q = shellQuote;
  const base = `http://127.0.0.1:${opts.restPort}`;
  return `${scriptPrologue(IDLE_SCRIPT, `power the host off after ${opts.idleMinutes} min without a model request`)}
# ODAPI_IDLE_SECONDS, ODAPI_IDLE_POWEROFF and ODAPI_IDLE_NOW exist for tests (short windows, a recording
# power-off, a clock they set).
window=\${ODAPI_IDLE_SECONDS:-${opts.idleMinutes * 60}}
read -ra poweroff <<<"\${ODAPI_IDLE_POWEROFF:-systemctl poweroff}"
state_file=\${ODAPI_IDLE_STATE:-${q(opts.stateFile ?? IDLE_STATE_FILE)}}
metrics_url=${q(`${base}${PROMETHEUS_PATH}`)}
models=(${opts.models.map(q).join(" ")})
now=\${ODAPI_IDLE_NOW:-$(date +%s)}

available_since='' last_activity='' last_count=''
if [[ -f $state_file ]]; then
  while IFS='=' read -r key value; do
    case $key in
      available_since) available_since=$value ;;
      last_activity) last_activity=$value ;;
      last_count) last_count=$value ;;
    esac
  done <"$state_file"
fi

save() {
  mkdir -p "\${state_file%/*}"
  printf 'available_since=%s\\nlast_activity=%s\\nlast_count=%s\\nchecked_at=%s\\nwindow_seconds=%s\\nmetrics=%s\\n' \\
    "$available_since" "$last_activity" "$last_count" "$now" "$window" "$1" >"$state_file.tmp"
  mv -f -- "$state_file.tmp" "$state_file"
}

# No data is never a reason to stop: a restart of TF Serving, or a scrape that fails, counts as activity.
if ! metrics=$(curl -fsS --max-time 10 "$metrics_url" 2>/dev/null); then
  [[ -n $available_since ]] && last_activity=$now
  save down
  say "metrics unavailable at $metrics_url: not stopping"
  exit 0
fi

# The idle clock starts only once every model has been AVAILABLE (a loading model is not an idle host).
if [[ -z $available_since ]]; then
  for model in "\${models[@]}"; do
    if ! curl -fsS --max-time 10 ${q(`${base}/v1/models/`)}"$model" 2>/dev/null | grep -Eq '"state" *: *"AVAILABLE"'; then
      save up
      say "waiting for $model to be AVAILABLE: not counting idle time yet"
      exit 0
    fi
  done
  available_since=$now
  last_activity=$now
fi

# Sum of every model's request counter, whatever the status label (a failed request is still a user).
count=$(awk -v name=${q(REQUEST_COUNT_METRIC)} 'index($0, name "{") == 1 || $1 == name { s += $NF } END { printf "%d", s }' <<<"$metrics")
if [[ $count != "$last_count" ]]; then
  last_count=$count
  last_activity=$now
fi
idle=$((now - last_activity))
save up
if ((idle >= window)); then
  say "no model request for $((idle / 60)) min ($idle s, limit $window s): powering off"
  "\${poweroff[@]}"
  exit 0
fi
say "idle for $((idle / 60)) min; stops in $(((window - idle + 59) / 60)) min without a request"
`;
}

export function renderIdleStopService(opts: IdleStopOptions): string {
  return `[Unit]
Description=odapi: power off after ${opts.idleMinutes} min without a model request
After=docker.service

[Service]
Type=oneshot
ExecStart=/bin/bash ${opts.remoteDir}/${IDLE_SCRIPT}
TimeoutStartSec=2min
`;
}

/** Every interval from boot on; the script itself waits for the models before the clock runs. */
export function renderIdleStopTimer(opts: IdleStopOptions): string {
  const minutes = opts.intervalMinutes ?? 1;
  return renderTimerUnit(`odapi: check for idleness every ${minutes} min`, minutes, "AccuracySec=10s");
}

/** Where the units are rendered beside the scripts (relative to remoteDir); the install step copies them. */
export const IDLE_UNITS_DIR = "systemd";

/**
 * Installs (`on`) or removes (`off`) the timer: `bash -c TEXT idle-stop-install REMOTE_DIR on|off`, as root.
 * ODAPI_SYSTEMD_DIR and ODAPI_SYSTEMD_RUN exist for tests (a unit dir and a "systemd is running" marker of theirs).
 */
export function renderIdleInstallScript(): string {
  return `set -Eeuo pipefail
remote_dir=$1 action=$2
unit_dir=\${ODAPI_SYSTEMD_DIR:-/etc/systemd/system}
if ! command -v systemctl >/dev/null 2>&1 || [[ ! -d \${ODAPI_SYSTEMD_RUN:-/run/systemd/system} ]]; then
  if [[ $action == off ]]; then
    echo "odapi: no systemd on this host: no idle auto-stop to remove"
    exit 0
  fi
  printf 'odapi-error: %s | fix: %s\\n' "the idle auto-stop needs systemd, which does not run on this host" "deploy without --idle-stop-minutes (or with 0), or stop the host yourself when idle" >&2
  exit 1
fi
if [[ $action == on ]]; then
  for unit in ${IDLE_UNITS.service} ${IDLE_UNITS.timer}; do
    install -m 0644 -- "$remote_dir/${IDLE_UNITS_DIR}/$unit" "$unit_dir/$unit"
  done
  systemctl daemon-reload
  systemctl enable ${IDLE_UNITS.timer}
  # restart, not start: a changed interval or window takes effect now.
  systemctl restart ${IDLE_UNITS.timer}
  echo "odapi: idle auto-stop on (${IDLE_UNITS.timer})"
else
  if [[ -f $unit_dir/${IDLE_UNITS.timer} ]]; then
    systemctl disable --now ${IDLE_UNITS.timer}
    rm -f -- "$unit_dir/${IDLE_UNITS.service}" "$unit_dir/${IDLE_UNITS.timer}"
    systemctl daemon-reload
  fi
  rm -f -- "$remote_dir/${IDLE_SCRIPT}" "$remote_dir/${IDLE_UNITS_DIR}/${IDLE_UNITS.service}" "$remote_dir/${IDLE_UNITS_DIR}/${IDLE_UNITS.timer}"
  echo "odapi: idle auto-stop off"
fi
`;
}

/** The files the host gets for the idle auto-stop, paths relative to remoteDir (script 0755, units 0644). */
export function renderIdleStopFiles(opts: IdleStopOptions): RenderedFile[] {
  return [
    { path: IDLE_SCRIPT, content: renderIdleStopScript(opts), mode: 0o755 },
    { path: `${IDLE_UNITS_DIR}/${IDLE_UNITS.service}`, content: renderIdleStopService(opts), mode: 0o644 },
    { path: `${IDLE_UNITS_DIR}/${IDLE_UNITS.timer}`, content: renderIdleStopTimer(opts), mode: 0o644 },
  ];
}
