// The load generator: warm-up, then N predict requests from C workers over C keep-alive connections.
import { performance } from "node:perf_hooks";
import { ExitCode, isOdapiError, OdapiError } from "../common/errors";
import { apiHeaders, modelUrl, responseError, serverMessage } from "./api";
import { parseDetections } from "./detections";
import { httpRequest, keepAliveAgent } from "./http";
import { imageRefusedError } from "./image";
import { type LatencySummary, summarize } from "./stats";

export interface BenchOptions {
  baseUrl: string;
  model: string;
  /** Pre-serialised predict bodies, sent in rotation. */
  bodies: string[];
  /** What each body holds (its files), so a refused body is named. */
  bodyNames?: string[];
  /** Images in each body (for images/s); default 1. */
  imagesPerRequest?: number;
  requests: number;
  concurrency: number;
  warmup: number;
  apiKey?: string;
  /** PEM CA(s) an https server must chain to. */
  caCert?: string;
  timeoutMs?: number;
  /** Aborting stops issuing requests; those in flight finish and the result covers what was measured. */
  signal?: AbortSignal;
  /** Called after each measured request (for a progress bar). */
  onProgress?: (done: number, total: number) => void;
}

export interface ErrorCount {
  message: string;
  exitCode: number;
  count: number;
}

export interface BenchResult {
  model: string;
  /** True when the run was stopped (Ctrl-C) before all requests were made. */
  interrupted: boolean;
  requests: number;
  concurrency: number;
  warmup: number;
  ok: number;
  errors: number;
  errorSamples: ErrorCount[];
  /** Bodies the server refused in the warm-up (400, e.g. a truncated JPEG), by index: left out of the measured run. */
  refused: { body: number; message: string }[];
  seconds: number;
  requestsPerSecond: number;
  imagesPerRequest: number;
  imagesPerSecond: number;
  latencyMs: LatencySummary;
  /** Successful request latencies in completion order (ms). */
  latencies: number[];
}

/**
 * Why a 2xx predict answer is not detections for `imageCount` images, or undefined when it is (pure): an HTML page
 * or a wrong proxy answering 200 is a failure, not a fast success.
 */
export function predictAnswerError(
  body: Buffer | string,
  imageCount: number,
  where: string,
): OdapiError | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body.toString());
  } catch {
    return new OdapiError(
      `${where} answered 200 with a body that is not JSON: ${serverMessage(body)}`,
      "check that --url points at the odapi API (its gateway or TF Serving's REST port), not another web server or proxy",
      "serverError",
    );
  }
  try {
    parseDetections(json, imageCount);
    return undefined;
  } catch (e) {
    return isOdapiError(e) ? e : new OdapiError(String(e), "see the message", "serverError");
  }
}

/** Groups failures by message so a report shows "503 ×120", not 120 lines (pure). */
export function countErrors(errors: OdapiError[]): ErrorCount[] {
  const byMessage = new Map<string, ErrorCount>();
  for (const e of errors) {
    const hit = byMessage.get(e.message);
    if (hit) hit.count++;
    else byMessage.set(e.message, { message: e.message, exitCode: e.exitCode, count: 1 });
  }
  return [...byMessage.values()].sort((a, b) => b.count - a.count);
}

/** Groups images into request bodies of `batch` each, wrapping around so every body is full (pure). */
export function batchBodies<T>(images: readonly T[], batch: number): T[][] {
  const count = Math.max(1, Math.ceil(images.length / batch));
  return Array.from({ length: count }, (_, b) =>
    Array.from({ length: batch }, (_, k) => images[(b * batch + k) % images.length]),
  );
}

/** Validates the numbers a user typed, naming the bad flag (pure). */
export function checkBenchNumbers(o: {
  requests: number;
  concurrency: number;
  warmup: number;
  batch?: number;
}): void {
  for (const [flag, v, min] of [
    ["--batch", o.batch ?? 1, 1],
    ["--requests", o.requests, 1],
    ["--concurrency", o.concurrency, 1],
    ["--warmup", o.warmup, 0],
  ] as const) {
    if (!Number.isInteger(v) || v < min) {
      throw new OdapiError(
        `${flag} must be a whole number ≥ ${min}, got ${v}`,
        `pass e.g. ${flag} ${min === 0 ? 5 : 50}`,
        "usage",
      );
    }
  }
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  checkBenchNumbers(o);
  const url = modelUrl(o.baseUrl, o.model, "predict");
  const agent = keepAliveAgent(url.protocol, o.concurrency);
  const headers = apiHeaders(o.apiKey, true);
  const refused = new Map<number, string>();
  let live = o.bodies.map((_, b) => b);
  const one = async (i: number, measured: boolean): Promise<void> => {
    const body = live[i % live.length] as number;
    const res = await httpRequest(url, {
      method: "POST",
      headers,
      body: o.bodies[body],
      timeoutMs: o.timeoutMs,
      agent,
      ca: o.caCert,
    });
    const err =
      responseError(res.status, res.body, { url, model: o.model, call: "predict" }) ??
      predictAnswerError(res.body, o.imagesPerRequest ?? 1, `${url.protocol}//${url.host}`);
    if (err?.exitCode === ExitCode.badRequest) {
      const named = o.bodyNames?.[body] === undefined ? err : imageRefusedError(o.bodyNames[body], err);
      if (measured) throw named; // counted as a failed request, like any other
      // Refused in the warm-up: this body's images are bad, not the endpoint: name them, go on without them.
      refused.set(body, named.message);
      live = live.filter((b) => b !== body);
      if (live.length === 0) throw named;
      return;
    }
    if (err) throw err;
  };
  const failures: OdapiError[] = [];
  const latencies: number[] = [];

  // Workers pull the next request index until none is left: exactly C requests in flight at any time.
  const drive = async (total: number, record: boolean) => {
    let next = 0;
    const worker = async () => {
      while (next < total && !o.signal?.aborted) {
        const i = next++;
        const t0 = performance.now();
        try {
          await one(i, record);
          if (record) latencies.push(performance.now() - t0);
        } catch (e) {
          if (!record) throw e; // a failing warm-up means the endpoint is broken: stop with its error
          failures.push(isOdapiError(e) ? e : new OdapiError(String(e), "see the message", "failure"));
        }
        if (record) o.onProgress?.(latencies.length + failures.length, total);
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, total) }, worker));
  };

  try {
    if (o.warmup > 0) await drive(o.warmup, false);
    const start = performance.now();
    await drive(o.requests, true);
    const seconds = (performance.now() - start) / 1000;
    return {
      model: o.model,
      interrupted: latencies.length + failures.length < o.requests,
      requests: o.requests,
      concurrency: o.concurrency,
      warmup: o.warmup,
      ok: latencies.length,
      errors: failures.length,
      errorSamples: countErrors(failures),
      refused: [...refused].map(([body, message]) => ({ body, message })),
      seconds,
      requestsPerSecond: latencies.length / seconds,
      imagesPerRequest: o.imagesPerRequest ?? 1,
      imagesPerSecond: (latencies.length * (o.imagesPerRequest ?? 1)) / seconds,
      latencyMs: summarize(latencies),
      latencies,
    };
  } finally {
    agent.destroy();
  }
}
