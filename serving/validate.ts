// Checks on user-supplied names and numbers, run before anything is rendered so bad input never reaches a file.
import { OdapiError } from "../common/errors";
import { validateModelName } from "../common/model-name";
import { checkRemoteDir } from "../common/remote-dir";
import type { BatchingOptions, ServedModel, ServingOptions, VersionPolicy } from "./types";

const LABEL_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
const MAX_NAME_LENGTH = 128;
// Keys go inside a double-quoted nginx string: restrict them to characters that need no escaping anywhere.
const API_KEY = /^[A-Za-z0-9._~+/=-]{16,256}$/;

function positiveInt(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value > 0;
}

function validateVersionPolicy(model: string, policy: VersionPolicy): void {
  const bad = (what: string) =>
    new OdapiError(
      `model ${model}: version policy ${JSON.stringify(policy)} is invalid (${what})`,
      "use { latest: N } with N ≥ 1, { all: true }, or { specific: [1, 2] } with positive integers",
      "config",
    );
  if ("latest" in policy) {
    if (!positiveInt(policy.latest)) throw bad("latest must be a positive integer");
  } else if ("specific" in policy) {
    if (!Array.isArray(policy.specific) || policy.specific.length === 0) throw bad("specific needs versions");
    if (!policy.specific.every(positiveInt)) throw bad("versions must be positive integers");
    if (new Set(policy.specific).size !== policy.specific.length) throw bad("versions repeat");
  } else if (!("all" in policy) || policy.all !== true) {
    throw bad("unknown kind");
  }
}

function validateLabels(model: ServedModel): void {
  for (const [label, version] of Object.entries(model.labels ?? {})) {
    if (!LABEL_NAME.test(label) || label.length > MAX_NAME_LENGTH) {
      throw new OdapiError(
        `model ${model.name}: version label ${JSON.stringify(label)} is not allowed`,
        "use a letter followed by letters, digits, '_' or '-' (e.g. stable, canary)",
        "config",
      );
    }
    if (!positiveInt(version)) {
      throw new OdapiError(
        `model ${model.name}: label ${label} points at ${JSON.stringify(version)}, not a version number`,
        "point each label at a positive integer version, e.g. { stable: 1 }",
        "config",
      );
    }
    const policy = model.versionPolicy;
    if (policy && "specific" in policy && !policy.specific.includes(version)) {
      throw new OdapiError(
        `model ${model.name}: label ${label} points at version ${version}, which the policy does not load`,
        `add ${version} to versionPolicy.specific or point the label at a loaded version`,
        "config",
      );
    }
  }
}

function validatePort(what: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new OdapiError(`${what} ${port} is not a TCP port`, "use an integer between 1 and 65535", "config");
  }
}

function validateBatching(b: BatchingOptions): void {
  const entries: [string, unknown][] = [
    ["maxBatchSize", b.maxBatchSize],
    ["batchTimeoutMicros", b.batchTimeoutMicros],
    ["maxEnqueuedBatches", b.maxEnqueuedBatches],
    ["numBatchThreads", b.numBatchThreads],
  ];
  for (const [key, value] of entries) {
    if (
      value !== undefined &&
      !(key === "batchTimeoutMicros" ? value === 0 || positiveInt(value) : positiveInt(value))
    ) {
      throw new OdapiError(
        `batching.${key} = ${JSON.stringify(value)} is invalid`,
        "use a positive integer",
        "config",
      );
    }
  }
  const sizes = b.allowedBatchSizes;
  if (sizes !== undefined) {
    const increasing = sizes.every((s, i) => positiveInt(s) && (i === 0 || s > sizes[i - 1]));
    if (sizes.length === 0 || !increasing) {
      throw new OdapiError(
        `batching.allowedBatchSizes ${JSON.stringify(sizes)} is invalid`,
        "list strictly increasing positive integers, e.g. [1, 2, 4, 8]",
        "config",
      );
    }
    // TF Serving refuses to start otherwise: the largest allowed size must equal max_batch_size.
    if (b.maxBatchSize !== undefined && sizes[sizes.length - 1] !== b.maxBatchSize) {
      throw new OdapiError(
        `batching.allowedBatchSizes must end with maxBatchSize (${b.maxBatchSize})`,
        `make the last allowed size ${b.maxBatchSize}, or drop maxBatchSize`,
        "config",
      );
    }
  }
}

/** Checks a host path that is mounted into a container: `docker --mount` splits on ',' and '='-pairs. */
function validateHostDir(what: string, dir: string): void {
  if (!dir.startsWith("/") || /[,:"'\n\r\0]/.test(dir) || dir.split("/").includes("..") || dir === "/") {
    throw new OdapiError(
      `${what} ${JSON.stringify(dir)} is not usable`,
      "give an absolute directory other than / without '..', ',', ':', quotes or newlines, e.g. /opt/odapi",
      "config",
    );
  }
}

export function validateApiKey(key: string): void {
  if (!API_KEY.test(key)) {
    throw new OdapiError(
      "the API key is not usable for the gateway",
      "use 16–256 characters from A-Z a-z 0-9 . _ ~ + / = - (e.g. `openssl rand -hex 32`)",
      "config",
    );
  }
}

function isIPv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** Validates everything renderServingFiles reads; throws OdapiError naming the bad value and the fix. */
export function validateServingOptions(opts: ServingOptions): void {
  if (opts.host !== "cpu" && opts.host !== "gpu") {
    throw new OdapiError(`host kind ${JSON.stringify(opts.host)} is unknown`, "use cpu or gpu", "config");
  }
  checkRemoteDir(opts.remoteDir, "remoteDir", "config");
  if (opts.modelsHostDir !== undefined) validateHostDir("models dir", opts.modelsHostDir);
  if (!Array.isArray(opts.models) || opts.models.length === 0) {
    throw new OdapiError(
      "no models to serve",
      "prepare at least one model (odapi prepare) or name one with --catalog",
      "config",
    );
  }
  const seen = new Set<string>();
  for (const model of opts.models) {
    validateModelName(model.name);
    if (seen.has(model.name)) {
      throw new OdapiError(`model ${model.name} is listed twice`, "list each model once", "config");
    }
    seen.add(model.name);
    if (model.versionPolicy) validateVersionPolicy(model.name, model.versionPolicy);
    validateLabels(model);
  }
  if (opts.publicPort !== undefined) validatePort("publicPort", opts.publicPort);
  if (opts.apiKey !== undefined) validateApiKey(opts.apiKey);
  if (opts.maxBodyBytes !== undefined && !positiveInt(opts.maxBodyBytes)) {
    throw new OdapiError(
      `maxBodyBytes ${opts.maxBodyBytes} is invalid`,
      "use a positive number of bytes, e.g. 20971520",
      "config",
    );
  }
  if (opts.batching) validateBatching(opts.batching);
  if (opts.publicBind !== undefined && !isIPv4(opts.publicBind)) {
    throw new OdapiError(
      `publicBind ${opts.publicBind} is not an IPv4 address`,
      "use 0.0.0.0 or 127.0.0.1",
      "config",
    );
  }
}
