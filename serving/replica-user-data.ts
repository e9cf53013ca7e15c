// A scale-out replica's user data (pure): one bash script that writes the same rendered files a deployed host gets
// (prepare-host.sh, start.sh, configs, gateway) plus the S3 sync agent, and enables the units that run them at boot.
import { shellQuote } from "../common/shell";
import { SCRIPTS } from "./constants";
import { renderServingFiles } from "./index";
import { scriptPrologue } from "./script-common";
import {
  renderSyncScript,
  renderSyncService,
  renderSyncTimer,
  SYNC_SCRIPT,
  SYNC_UNITS,
  type SyncAgentOptions,
} from "./sync-agent";
import type { RenderedFile, ServingOptions } from "./types";

/** The boot unit: prepare the host, sync the models, start the containers — at every boot, not only the first. */
export const REPLICA_UNIT = "odapi-replica.service";
export const SYSTEMD_UNIT_DIR = "/etc/systemd/system";
/** Heredoc delimiter of every embedded file; a file containing it as a line is refused. */
export const FILE_END = "ODAPI_FILE_END";
/** Seconds between attempts of a failed boot (e.g. S3 not reachable yet): the unit retries until it works. */
export const REPLICA_RETRY_SECONDS = 30;

export interface ReplicaOptions {
  serving: ServingOptions;
  /** bucket, prefix and region of the published models; remoteDir is the serving one. */
  sync: Omit<SyncAgentOptions, "remoteDir">;
  /** Where the units go; default /etc/systemd/system (tests point it elsewhere). */
  unitDir?: string;
}

export function renderReplicaService(remoteDir: string): string {
  const run = (script: string) => `ExecStart=/bin/bash ${remoteDir}/${script}`;
  return `[Unit]
Description=odapi replica: prepare the host, sync the models from S3, start TF Serving and the gateway
Wants=network-online.target
After=network-online.target docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
${run(SCRIPTS.prepareHost)}
${run(SYNC_SCRIPT)}
${run(SCRIPTS.start)}
# A first boot downloads Docker, the images and the models; the load balancer's grace period covers it.
TimeoutStartSec=1h
Restart=on-failure
RestartSec=${REPLICA_RETRY_SECONDS}

[Install]
WantedBy=multi-user.target
`;
}

/** Every file the replica needs, absolute paths: the serving files, the sync agent and the units. */
export function replicaFiles(opts: ReplicaOptions): RenderedFile[] {
  const remoteDir = opts.serving.remoteDir;
  const unitDir = opts.unitDir ?? SYSTEMD_UNIT_DIR;
  const sync: SyncAgentOptions = { ...opts.sync, remoteDir };
  const unit = (content: string) => ({ content, mode: 0o644 });
  return [
    ...renderServingFiles(opts.serving).map((f) => ({ ...f, path: `${remoteDir}/${f.path}` })),
    { path: `${remoteDir}/${SYNC_SCRIPT}`, content: renderSyncScript(sync), mode: 0o755 },
    { path: `${unitDir}/${SYNC_UNITS.service}`, ...unit(renderSyncService(sync)) },
    { path: `${unitDir}/${SYNC_UNITS.timer}`, ...unit(renderSyncTimer(sync)) },
    { path: `${unitDir}/${REPLICA_UNIT}`, ...unit(renderReplicaService(remoteDir)) },
  ];
}

function embed(file: RenderedFile): string {
  if (file.content.split("\n").includes(FILE_END)) {
    throw new Error(`renderReplicaUserData: ${file.path} contains the line ${FILE_END}`);
  }
  const body = file.content.endsWith("\n") ? file.content : `${file.content}\n`;
  return `put ${shellQuote(file.path)} ${file.mode.toString(8).padStart(4, "0")} <<'${FILE_END}'\n${body}${FILE_END}`;
}

/** The user data script. The gateway config inside holds the API key: the caller keeps the result a secret. */
export function renderReplicaUserData(opts: ReplicaOptions): string {
  return `${scriptPrologue("odapi-user-data", "install the replica's files and units, then start them (EC2 runs this once, at first boot)")}
# Files are born private (umask) and opened up to their mode afterwards: the gateway config holds the API key.
umask 077
put() {
  mkdir -p "\${1%/*}"
  cat >"$1"
  chmod "$2" "$1"
}

${replicaFiles(opts).map(embed).join("\n\n")}

# The timer picks up newly published versions; the replica unit runs at every boot (the sync agent's own unit
# is started by the timer only, so it never races the replica unit's first sync).
systemctl daemon-reload
systemctl enable ${SYNC_UNITS.timer} ${REPLICA_UNIT}
systemctl start --no-block ${REPLICA_UNIT} ${SYNC_UNITS.timer}
say "replica files installed; ${REPLICA_UNIT} is starting"
`;
}
