// The pure plan of a deploy: what runs, with which argv, as whom, decided from the input and the local model names.
import { OdapiError } from "../../common/errors";
import { validateModelName } from "../../common/model-name";
import { checkRemoteDir } from "../../common/remote-dir";
import { catalogEntry } from "../../model-prep/catalog";
import { checkVersion } from "../../model-prep/version";
import {
  type HostKind,
  IDLE_STATE_FILE,
  type RenderedFile,
  renderIdleStopFiles,
  renderServingFiles,
  SCRIPTS,
  type ServingOptions,
  scriptArgv,
  servingPorts,
  type TlsIdentity,
} from "../../serving";
import { IDLE_STOP_MINUTES, isIdleStopMinutes } from "../aws/idle-rule";
import { type BundleFile, bundleFileFromContent } from "../transfer";
import { ensureDirArgv } from "./ensure-dir";
import { idleStopArgv } from "./idle-stop";
import { prepareHostArgv } from "./prepare-host";

export interface DeployInput {
  remoteDir: string;
  /** Local dir laid out as `<name>/<version>/saved_model.pb …` (what `odapi prepare` writes). */
  modelsDir?: string;
  /** Catalog models prepared on the host itself. */
  catalog?: string[];
  /** Version number for catalog models. */
  version?: number;
  gpu?: boolean;
  /** Run start.sh and wait for the models; default true. */
  start?: boolean;
  apiKey?: string;
  /** With apiKey: the gateway's certificate and key; the public port then speaks only HTTPS. */
  tls?: TlsIdentity;
  publicPort?: number;
  /** Power the host off after this many minutes without a model request; 0 removes it; undefined leaves it as is. */
  idleStopMinutes?: number;
}

export interface DeployPlan {
  remoteDir: string;
  models: string[];
  serving: ServingOptions;
  /** Bundle entries rendered here (scripts, configs, deploy record); model files come from the local scan. */
  renderedFiles: RenderedFile[];
  ensureDir: { argv: string[]; privilegedArgv: string[] };
  prepareHost: { argv: string[]; sudo: true };
  catalog: string[];
  /** The idle auto-stop's (de)activation, when asked for. */
  idleStop?: { argv: string[]; sudo: true; minutes: number };
  /** gatewayPort: the public port when the API-key gateway fronts TF Serving (checked after the wait). */
  start?: { argv: string[]; sudo: true; internalRestPort: number; gatewayPort?: number };
}

/** Caps on remote steps that could otherwise wait forever (apt behind a stuck lock, a registry that stalls). */
export const STEP_TIMEOUT_MS = { prepareHost: 30 * 60_000, start: 20 * 60_000 } as const;

/** Where deploy records what it deployed (read by `odapi status`), relative to remoteDir. */
export const DEPLOY_RECORD = "config/deploy.json";

export interface DeployRecord {
  models: string[];
  host: HostKind;
  publicPort: number;
  internalRestPort: number;
  gateway: boolean;
  /** The gateway speaks HTTPS (absent in records written before TLS existed: plain HTTP). */
  tls?: boolean;
  /** The idle auto-stop this deploy installed, and where its state is (read by `odapi status --stack`). */
  idleStop?: { minutes: number; stateFile: string };
}

/** The deploy record written by `odapi deploy`, or undefined when the dir holds no deployment. Pure. */
export function parseDeployRecord(text: string): DeployRecord | undefined {
  try {
    const r = JSON.parse(text) as DeployRecord;
    return Array.isArray(r.models) && typeof r.internalRestPort === "number" ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Model names in a bundle: the `<name>` of every `models/<name>/<version>/…` path (pure). */
export function modelNamesOf(files: Pick<BundleFile, "relPath">[]): string[] {
  const names = new Set<string>();
  for (const f of files) {
    const [top, name] = f.relPath.split("/");
    if (top === "models" && name) names.add(name);
  }
  return [...names].sort();
}

/** Everything deploy will do, decided from the input and the local model names, without I/O. */
export function planDeploy(input: DeployInput, localModels: string[], user: string): DeployPlan {
  const remoteDir = checkRemoteDir(input.remoteDir);
  const catalog = [...new Set(input.catalog ?? [])];
  const models = [...new Set([...localModels, ...catalog])].sort();
  if (models.length === 0) {
    throw new OdapiError(
      "nothing to deploy: no models given",
      "pass --models DIR (prepared with `odapi prepare`) and/or --catalog NAME (prepared on the host)",
      "usage",
    );
  }
  for (const m of models) validateModelName(m);
  if (input.tls && !input.apiKey) {
    throw new OdapiError(
      "a TLS certificate was given without an API key: TLS is served by the API-key gateway",
      "set ODAPI_API_KEY (the gateway's key) for this deploy, or drop --tls-cert/--tls-key",
      "usage",
    );
  }
  const clash = catalog.filter((c) => localModels.includes(c));
  if (clash.length) {
    throw new OdapiError(
      `model ${clash.join(", ")} is both in --models and --catalog`,
      "deploy each model from one source: drop it from --catalog or remove it from the models dir",
      "usage",
    );
  }
  // Checked here, not first on the host: a typo must not install Docker and upload before it is noticed.
  for (const name of catalog) catalogEntry(name);
  if (catalog.length) checkVersion(input.version ?? 1);
  const serving: ServingOptions = {
    host: input.gpu ? "gpu" : "cpu",
    remoteDir,
    models: models.map((name) => ({ name })),
    ...(input.publicPort ? { publicPort: input.publicPort } : {}),
    ...(input.apiKey ? { apiKey: input.apiKey } : {}),
    ...(input.apiKey && input.tls ? { tls: input.tls } : {}),
  };
  const ports = servingPorts(serving);
  const idleMinutes = checkIdleStopMinutes(input.idleStopMinutes);
  const record: DeployRecord = {
    models,
    host: serving.host,
    publicPort: ports.public,
    internalRestPort: ports.internalRest,
    gateway: Boolean(input.apiKey),
    tls: Boolean(input.apiKey && input.tls),
    ...(idleMinutes ? { idleStop: { minutes: idleMinutes, stateFile: IDLE_STATE_FILE } } : {}),
  };
  const renderedFiles = [
    ...renderServingFiles(serving),
    ...(idleMinutes
      ? renderIdleStopFiles({ idleMinutes, restPort: ports.internalRest, models, remoteDir })
      : []),
    { path: DEPLOY_RECORD, content: `${JSON.stringify(record, null, 2)}\n`, mode: 0o644 },
  ];
  return {
    remoteDir,
    models,
    serving,
    renderedFiles,
    ensureDir: ensureDirArgv(remoteDir, user),
    prepareHost: { argv: prepareHostArgv(renderedFiles), sudo: true },
    catalog,
    ...(idleMinutes !== undefined
      ? {
          idleStop: { argv: idleStopArgv(remoteDir, idleMinutes), sudo: true as const, minutes: idleMinutes },
        }
      : {}),
    ...(input.start === false
      ? {}
      : {
          start: {
            argv: scriptArgv(remoteDir, SCRIPTS.start),
            sudo: true,
            internalRestPort: ports.internalRest,
            ...(input.apiKey ? { gatewayPort: ports.public } : {}),
          },
        }),
  };
}

/** --idle-stop-minutes: 0 (off) or within IDLE_STOP_MINUTES, like the stack key (pure). */
export function checkIdleStopMinutes(n: number | undefined): number | undefined {
  if (n === undefined || isIdleStopMinutes(n)) return n;
  throw new OdapiError(
    `--idle-stop-minutes ${n} is out of range`,
    `pass 0 (off) or ${IDLE_STOP_MINUTES.min}…${IDLE_STOP_MINUTES.max} minutes (a week)`,
    "usage",
  );
}

/** Rendered files as bundle entries (content in memory, hashed here). Pure. */
export function renderedToBundle(files: RenderedFile[]): BundleFile[] {
  return files.map((f) => bundleFileFromContent(f.path, f.content, f.mode));
}
