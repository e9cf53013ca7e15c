// TF Serving REST API calls (status, metadata, predict) with every failure turned into one clear OdapiError.
// Contract: tensorflow/serving g3doc api_rest.md — GET /v1/models/{name}, GET …/metadata, POST …:predict,
// errors as {"error": "…"} with an HTTP error status.
import type http from "node:http";
import { OdapiError } from "../common/errors";
import { type HttpResponse, httpRequest } from "./http";
import type { PredictRequestBody } from "./request";

/** The API-key gateway's header (serving/gateway.ts); TF Serving itself has no auth. */
export const API_KEY_HEADER = "X-API-Key";

export interface ApiOptions {
  apiKey?: string;
  timeoutMs?: number;
  agent?: http.Agent;
  /** PEM CA certificate(s) the https server must chain to (the stack's caCertificate, --ca-cert). */
  caCert?: string;
  /** The name the server certificate must be for, when it differs from the URL's host (an SSH tunnel's 127.0.0.1). */
  tlsServerName?: string;
}

export interface ModelVersionStatus {
  version: string;
  state: string; // START | LOADING | AVAILABLE | UNLOADING | END
  status?: { error_code?: string; error_message?: string };
}
export interface ModelStatus {
  model_version_status: ModelVersionStatus[];
}

export interface TensorInfo {
  dtype: string;
  name?: string;
  tensor_shape?: { dim?: { size: string; name?: string }[]; unknown_rank?: boolean };
}
export interface SignatureDef {
  inputs: Record<string, TensorInfo>;
  outputs: Record<string, TensorInfo>;
  method_name?: string;
}
export interface ModelMetadata {
  model_spec: { name: string; signature_name?: string; version?: string };
  metadata: { signature_def: { signature_def: Record<string, SignatureDef> } };
}

export interface PredictResponse {
  predictions: unknown[];
}

export type ApiCall = "status" | "metadata" | "predict";

/** `…/v1/models/{name}`, `…/metadata` or `…:predict` under baseUrl, keeping any path prefix of baseUrl (pure). */
export function modelUrl(baseUrl: string, model: string, call: ApiCall): URL {
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new OdapiError(
      `not a URL: ${JSON.stringify(baseUrl)}`,
      "pass --url like http://203.0.113.7:8501",
      "usage",
    );
  }
  const prefix = base.pathname.replace(/\/+$/, "");
  const path = `${prefix}/v1/models/${encodeURIComponent(model)}`;
  const suffix = call === "metadata" ? "/metadata" : call === "predict" ? ":predict" : "";
  return new URL(`${base.protocol}//${base.host}${path}${suffix}`);
}

/** Request headers: JSON when there is a body, the API key when one is configured (pure). */
export function apiHeaders(apiKey: string | undefined, withJsonBody: boolean): Record<string, string> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (withJsonBody) headers["content-type"] = "application/json";
  if (apiKey) headers[API_KEY_HEADER] = apiKey;
  return headers;
}

/** The server's own message from a TF Serving / gateway error body, on one short line (pure). */
export function serverMessage(body: Buffer | string): string {
  const text = body.toString().trim();
  let message = text;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === "object" && typeof (parsed as { error?: unknown }).error === "string") {
      message = (parsed as { error: string }).error;
    }
  } catch {
    // Not JSON (e.g. an HTML page from a proxy): show the start of the text.
  }
  message = message.replace(/\s+/g, " ").trim();
  return message.length > 300 ? `${message.slice(0, 297)}...` : message || "(empty body)";
}

/** The OdapiError for a non-2xx answer, or undefined when the status is a success (pure). */
export function responseError(
  status: number,
  body: Buffer | string,
  ctx: { url: URL; model: string; call: ApiCall },
): OdapiError | undefined {
  if (status >= 200 && status < 300) return undefined;
  const msg = serverMessage(body);
  const where = `${ctx.url.protocol}//${ctx.url.host}`;
  const model = JSON.stringify(ctx.model);
  switch (status) {
    case 401:
    case 403:
      return new OdapiError(
        `${where} answered ${status} (missing or wrong API key): ${msg}`,
        "pass --api-key KEY or set ODAPI_API_KEY (with a Pulumi stack: `pulumi stack output apiKey --show-secrets`)",
        "auth",
      );
    case 404:
      return new OdapiError(
        `model ${model} not found on ${where} (404): ${msg}`,
        "check --model against the served models (`odapi status`, or the stack's `models` output) and that --url is the TF Serving REST port",
        "notFound",
      );
    case 400:
      return new OdapiError(
        `${where} rejected the ${ctx.call} request for model ${model} (400): ${msg}`,
        ctx.call === "predict"
          ? "send JPEG or PNG files; if the message is about the input's type or shape, prepare the model with `odapi prepare` so it takes encoded images"
          : "check the model name and version",
        "badRequest",
      );
    case 413:
      return new OdapiError(
        `${where} refused the request body as too large (413): ${msg}`,
        "send smaller images or fewer per request (the API-key gateway's body limit is maxBodyBytes, 20 MiB by default)",
        "badRequest",
      );
    case 408:
    case 504:
      return new OdapiError(
        `${where} timed out serving the ${ctx.call} request for model ${model} (${status}): ${msg}`,
        "the model may still be loading or the server is overloaded: retry, or check `odapi logs`",
        "timeout",
      );
    default:
      return new OdapiError(
        `${where} failed the ${ctx.call} request for model ${model} (HTTP ${status}): ${msg}`,
        status >= 500
          ? "look at the server side with `odapi logs` (TF Serving may be out of memory or still starting)"
          : "check that --url points at a TensorFlow Serving REST port",
        status >= 500 ? "serverError" : "failure",
      );
  }
}

function parseJson<T>(res: HttpResponse, url: URL): T {
  try {
    return JSON.parse(res.body.toString()) as T;
  } catch {
    throw new OdapiError(
      `${url.href} answered ${res.status} with a body that is not JSON: ${serverMessage(res.body)}`,
      "check that --url points at a TensorFlow Serving REST port (default 8501)",
      "serverError",
    );
  }
}

async function call<T>(
  baseUrl: string,
  model: string,
  what: ApiCall,
  body: string | undefined,
  opts: ApiOptions,
): Promise<T> {
  const url = modelUrl(baseUrl, model, what);
  const res = await httpRequest(url, {
    method: body === undefined ? "GET" : "POST",
    headers: apiHeaders(opts.apiKey, body !== undefined),
    body,
    timeoutMs: opts.timeoutMs,
    agent: opts.agent,
    ca: opts.caCert,
    tlsServerName: opts.tlsServerName,
  });
  const err = responseError(res.status, res.body, { url, model, call: what });
  if (err) throw err;
  return parseJson<T>(res, url);
}

/** GET /v1/models/{model}: the state of each loaded version. */
export function getModelStatus(baseUrl: string, model: string, opts: ApiOptions = {}): Promise<ModelStatus> {
  return call<ModelStatus>(baseUrl, model, "status", undefined, opts);
}

/** GET /v1/models/{model}/metadata: the signatures (input/output names and dtypes). */
export function getModelMetadata(
  baseUrl: string,
  model: string,
  opts: ApiOptions = {},
): Promise<ModelMetadata> {
  return call<ModelMetadata>(baseUrl, model, "metadata", undefined, opts);
}

/** POST /v1/models/{model}:predict. `body` may be pre-serialised JSON (the bench sends one string many times). */
export function predict(
  baseUrl: string,
  model: string,
  body: PredictRequestBody | string,
  opts: ApiOptions = {},
): Promise<PredictResponse> {
  const json = typeof body === "string" ? body : JSON.stringify(body);
  return call<PredictResponse>(baseUrl, model, "predict", json, opts);
}

/** Versions whose state is AVAILABLE (pure). */
export function availableVersions(status: ModelStatus): string[] {
  return (status.model_version_status ?? []).filter((v) => v.state === "AVAILABLE").map((v) => v.version);
}

/** Throws unless at least one version of the model is AVAILABLE, naming each version's state (pure). */
export function requireAvailable(status: ModelStatus, model: string): void {
  if (availableVersions(status).length > 0) return;
  const states = (status.model_version_status ?? [])
    .map((v) => {
      const why = v.status?.error_message ? ` (${v.status.error_message})` : "";
      return `version ${v.version} ${v.state}${why}`;
    })
    .join(", ");
  throw new OdapiError(
    `model ${JSON.stringify(model)} has no AVAILABLE version${states ? `: ${states}` : ""}`,
    "models take a minute to load after start: retry shortly; if a version failed, check `odapi logs`",
    "serverError",
  );
}

export const DEFAULT_SIGNATURE = "serving_default";

/**
 * The single DT_STRING input of the signature the client posts to (pure).
 * A raw TF2 detection model takes `input_tensor` uint8 [1,H,W,3], which b64 JSON cannot feed.
 */
export function encodedImageInput(meta: ModelMetadata, model: string, signature = DEFAULT_SIGNATURE): string {
  const sigs = meta.metadata?.signature_def?.signature_def ?? {};
  const sig = sigs[signature];
  if (!sig) {
    throw new OdapiError(
      `model ${JSON.stringify(model)} has no signature ${JSON.stringify(signature)} (it has: ${Object.keys(sigs).join(", ") || "none"})`,
      "prepare the model with `odapi prepare` so its serving_default signature takes encoded images",
      "config",
    );
  }
  const inputs = Object.entries(sig.inputs ?? {});
  const stringInputs = inputs.filter(([, t]) => t.dtype === "DT_STRING");
  if (inputs.length !== 1 || stringInputs.length !== 1) {
    const described = inputs.map(([n, t]) => `${n} ${t.dtype}`).join(", ") || "no inputs";
    throw new OdapiError(
      `model ${JSON.stringify(model)} only takes tensors (${signature}: ${described}), not encoded images`,
      "prepare it with `odapi prepare` (model-prep) so serving_default takes base64 JPEG/PNG bytes",
      "config",
    );
  }
  return stringInputs[0][0];
}
