// The load generator: warm-up, then N predict requests from C workers over C keep-alive connections.
import { performance } from "node:perf_hooks";
import { isOdapiError, OdapiError } from "../common/errors";
import { apiHeaders, modelUrl, responseError } from "./api";
import { httpRequest, keepAliveAgent } from "./http";
import { type LatencySummary, summarize } from "./stats";

export interface BenchOptions {
  baseUrl: string;
  model: string;
  /** Pre-serialised predict bodies, sent in rotation. */
  bodies: string[];
  /** Images in each body (for images/s); default 1. */
  imagesPerRequest?: number;
  requests: number;
  concurrency: number;
  warmup: number;
  apiKey?: string;
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
  seconds: number;
  requestsPerSecond: number;
  imagesPerRequest: number;
  imagesPerSecond: number;
  latencyMs: LatencySummary;
  /** Successful request latencies in completion order (ms). */
  latencies: number[];
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
  const one = async (i: number): Promise<void> => {
    const res = await httpRequest(url, {
      method: "POST",
      headers,
      body: o.bodies[i % o.bodies.length],
      timeoutMs: o.timeoutMs,
      agent,
    });
    const err = responseError(res.status, res.body, { url, model: o.model, call: "predict" });
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
          await one(i);
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
