// The typed description of a TF Serving deployment; every renderer in serving/ takes these and nothing else.

export type HostKind = "cpu" | "gpu";

export type VersionPolicy = { latest: number } | { all: true } | { specific: number[] };

export interface ServedModel {
  /** Endpoint name: /v1/models/<name>; also the directory models/<name>/ on the host. */
  name: string;
  /** Which numeric version directories TF Serving loads; default { latest: 1 }. */
  versionPolicy?: VersionPolicy;
  /** Version labels, e.g. { stable: 1, canary: 2 } → /v1/models/<name>/labels/stable. */
  labels?: Record<string, number>;
}

/** Server-side batching (TF Serving BatchingParameters). Off unless given; see serving/README.md for why. */
export interface BatchingOptions {
  maxBatchSize?: number;
  batchTimeoutMicros?: number;
  maxEnqueuedBatches?: number;
  numBatchThreads?: number;
  allowedBatchSizes?: number[];
  padVariableLengthInputs?: boolean;
}

export interface ServingOptions {
  host: HostKind;
  /** Absolute dir on the target: models/<name>/<version>/, config/, *.sh live here. */
  remoteDir: string;
  models: ServedModel[];
  /** Where clients reach the REST API (the gateway when apiKey is set); default 8501. */
  publicPort?: number;
  /** Set → the API-key gateway (nginx) fronts TF Serving, which binds only 127.0.0.1. */
  apiKey?: string;
  /** With apiKey: the gateway speaks only HTTPS with this certificate (chain, PEM) and key (PEM). */
  tls?: TlsIdentity;
  /** With apiKey: proxies whose X-Forwarded-For the gateway's per-client limits trust (the scale stack's VPC). */
  trustedProxyCidrs?: string[];
  /** Gateway request body limit; default 20 MiB. */
  maxBodyBytes?: number;
  /** Off by default. */
  batching?: BatchingOptions;
  /** Host address the public port binds to; default 0.0.0.0 (local mode uses 127.0.0.1). */
  publicBind?: string;
  /** Host dir holding models/<name>/<version>/; default <remoteDir>/models (local mode points at ./models). */
  modelsHostDir?: string;
}

export interface RenderedFile {
  /** Relative to remoteDir. */
  path: string;
  content: string;
  mode: number;
}

/** A server certificate (leaf first, then any chain) and its private key, both PEM. */
export interface TlsIdentity {
  certPem: string;
  keyPem: string;
}
