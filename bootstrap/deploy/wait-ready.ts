// Proof that a deploy works: every model AVAILABLE, then one real detection per model, all against a deadline.
import { readFileSync } from "node:fs";
import { getModelStatus, type ModelStatus, predict } from "../../client/api";
import { parseDetections } from "../../client/detections";
import { predictRequestBody } from "../../client/request";
import { ExitCode, isOdapiError, OdapiError } from "../../common/errors";
import { DEFAULT_SAMPLE_IMAGE } from "../../common/paths";
import type { SshSession } from "../ssh/session";

export type ReadyEvent =
  | { model: string; phase: "waiting"; detail: string; elapsedMs: number }
  | { model: string; phase: "available"; versions: string[]; elapsedMs: number }
  | { model: string; phase: "detected"; detections: number; topScore: number; latencyMs: number };

/** One line per readiness event, for progress logs. */
export function describeReady(e: ReadyEvent): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(0)} s`;
  if (e.phase === "waiting") return `${e.model}: ${e.detail} (${seconds(e.elapsedMs)})`;
  if (e.phase === "available")
    return `${e.model} is AVAILABLE (version ${e.versions.join(", ")}, ${seconds(e.elapsedMs)})`;
  return `${e.model} detected ${e.detections} objects on the sample image in ${e.latencyMs} ms (top score ${e.topScore.toFixed(2)})`;
}

export interface WaitOptions {
  apiKey?: string;
  /** PEM CA(s) an https API must chain to (the stack's caCertificate, --ca-cert). */
  caCert?: string;
  /** Total time allowed, from now, for all models to load and answer. */
  deadlineMs: number;
  /** JPEG/PNG sent once per model; default samples/astronaut.jpg. */
  sampleImage?: string;
  onProgress?: (e: ReadyEvent) => void;
  /** Poll period bounds; default 0.5 s doubling to 5 s. */
  pollMinMs?: number;
  pollMaxMs?: number;
}

export interface ModelReady {
  model: string;
  versions: string[];
  detections: number;
  topScore: number;
  latencyMs: number;
}

export type StatusAssessment =
  | { kind: "available"; versions: string[] }
  | { kind: "loading"; detail: string }
  | { kind: "failed"; message: string };

/** What a status answer means for the wait: done, keep waiting, or give up now (a version failed to load). Pure. */
export function assessStatus(status: ModelStatus): StatusAssessment {
  const versions = status.model_version_status ?? [];
  const available = versions.filter((v) => v.state === "AVAILABLE").map((v) => v.version);
  if (available.length > 0) return { kind: "available", versions: available };
  // TF Serving reports a version that failed to load as END with the load error in status.error_message.
  const failed = versions.find((v) => v.state === "END" && v.status?.error_message);
  if (failed) {
    return {
      kind: "failed",
      message: `version ${failed.version} failed to load: ${failed.status?.error_message}`,
    };
  }
  const detail = versions.length
    ? versions.map((v) => `version ${v.version} ${v.state}`).join(", ")
    : "no versions yet";
  return { kind: "loading", detail };
}

/** Polling errors that only mean "not up yet": the server is starting, or has not read its config yet. Pure. */
export function isTransientWhileStarting(err: unknown): boolean {
  if (!isOdapiError(err)) return false;
  const transient: number[] = [
    ExitCode.unreachable,
    ExitCode.timeout,
    ExitCode.notFound,
    ExitCode.serverError,
  ];
  return transient.includes(err.exitCode);
}

/** Capped exponential poll delay. Pure. */
export function pollDelayMs(attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** attempt);
}

/** Resolves after `ms` (the pollers here and in bootstrap/aws/ec2.ts). */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until every model has an AVAILABLE version, then runs one detection per model on the sample image. */
export async function waitUntilServing(
  baseUrl: string,
  models: string[],
  opts: WaitOptions,
): Promise<ModelReady[]> {
  const started = Date.now();
  const deadline = started + opts.deadlineMs;
  const minMs = opts.pollMinMs ?? 500;
  const maxMs = opts.pollMaxMs ?? 5000;
  const image = readFileSync(opts.sampleImage ?? DEFAULT_SAMPLE_IMAGE);
  const body = JSON.stringify(predictRequestBody([image]));
  const results: ModelReady[] = [];

  for (const model of models) {
    let versions: string[] | undefined;
    let last = "no answer yet";
    let sawState = false;
    for (let attempt = 0; !versions; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new OdapiError(
          `model ${model} was not AVAILABLE within ${Math.round(opts.deadlineMs / 1000)} s (last: ${last})`,
          "large models take minutes on small instances: rerun with a longer --wait; check `odapi logs` for load errors",
          "timeout",
        );
      }
      let status: ModelStatus | undefined;
      try {
        status = await getModelStatus(baseUrl, model, {
          apiKey: opts.apiKey,
          caCert: opts.caCert,
          timeoutMs: Math.min(10_000, remaining),
        });
      } catch (err) {
        if (!isTransientWhileStarting(err)) throw err;
        // A request the deadline cut short says nothing new: keep the state the server last reported.
        const cutShort = remaining < 10_000 && isOdapiError(err) && err.exitCode === ExitCode.timeout;
        if (!(cutShort && sawState)) last = (err as Error).message;
      }
      const a = status ? assessStatus(status) : undefined;
      if (a?.kind === "available") versions = a.versions;
      else if (a?.kind === "failed") {
        throw new OdapiError(
          `model ${model}: ${a.message}`,
          "check that the model directory holds a SavedModel this TF Serving version can load (`odapi logs` has details)",
          "serverError",
        );
      } else if (a) {
        last = a.detail;
        sawState = true;
      }
      if (versions) break;
      opts.onProgress?.({ model, phase: "waiting", detail: last, elapsedMs: Date.now() - started });
      await sleep(Math.min(pollDelayMs(attempt, minMs, maxMs), Math.max(0, deadline - Date.now())));
    }
    opts.onProgress?.({ model, phase: "available", versions, elapsedMs: Date.now() - started });

    const t0 = Date.now();
    // The first request after loading can be slow (warmup, graph optimisation): allow up to the rest of the deadline.
    const response = await predict(baseUrl, model, body, {
      apiKey: opts.apiKey,
      caCert: opts.caCert,
      timeoutMs: Math.max(30_000, deadline - Date.now()),
    });
    const latencyMs = Date.now() - t0;
    const [detections = []] = parseDetections(response, 1);
    const topScore = detections.reduce((m, d) => Math.max(m, d.score), 0);
    opts.onProgress?.({ model, phase: "detected", detections: detections.length, topScore, latencyMs });
    results.push({ model, versions, detections: detections.length, topScore, latencyMs });
  }
  return results;
}

/** The line that proves one model serves: what deploy and start print (pure). */
export function readyLine(r: ModelReady): string {
  return `${r.model}: AVAILABLE (version ${r.versions.join(", ")}), ${r.detections} detections, top score ${r.topScore.toFixed(2)}, ${r.latencyMs} ms`;
}

/** Deploy step "wait until serving": the wait above, through an SSH port forward to TF Serving's internal port
 * (works before the firewall admits us, and never exposes that port); one log line per ready model. */
export async function waitServingOverSsh(
  session: SshSession,
  internalRestPort: number,
  models: string[],
  opts: WaitOptions,
  log: (line: string) => void,
): Promise<ModelReady[]> {
  const tunnel = await session.forwardPort(internalRestPort);
  try {
    const ready = await waitUntilServing(`http://127.0.0.1:${tunnel.localPort}`, models, opts);
    for (const r of ready) log(readyLine(r));
    return ready;
  } finally {
    await tunnel.close();
  }
}
