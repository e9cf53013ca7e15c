// Where the client sends its requests and what it sends: the target (flags, env, stack outputs), the images,
// and each model's check (AVAILABLE, takes encoded images) before any detection.
import { X509Certificate } from "node:crypto";
import path from "node:path";
import pc from "picocolors";
import { describeReady, waitUntilServing } from "../bootstrap/deploy/wait-ready";
import {
  availableVersions,
  encodedImageInput,
  getModelMetadata,
  getModelStatus,
  requireAvailable,
} from "../client/api";
import { collectImagePaths, type LocalImage, loadImage } from "../client/image";
import { type ModelCheck, modelLine } from "../client/present/report";
import { readStack, type StackTarget } from "../client/stack";
import { OdapiError } from "../common/errors";
import { readFlagFile } from "../common/files";
import { PROJECT_ROOT } from "../common/paths";
import { type ClientOptions, DEFAULT_IMAGE, DEFAULT_MODEL } from "./client-options";

export interface Target {
  url: string;
  models: string[];
  apiKey?: string;
  /** PEM CA(s) the https server must chain to: --ca-cert's file, or the stack's caCertificate. */
  caCert?: string;
  source: string;
}

export interface ClientIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  isTty: boolean;
}

/** A target with its images loaded and every model checked: what detect and bench start from. */
export interface OpenTarget {
  target: Target;
  images: LocalImage[];
  checks: ModelCheck[];
}

/** `203.0.113.7:8501` → `http://203.0.113.7:8501`: a bare host:port is what people paste (pure). */
export function withScheme(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
}

/**
 * Where to send requests, with which key and which CA: flags first, then env, then the stack's outputs (pure).
 * `caPem` is --ca-cert's content, already read.
 */
export function resolveTarget(
  opts: ClientOptions,
  env: NodeJS.ProcessEnv,
  stack?: StackTarget,
  caPem?: string,
): Target {
  const url = opts.url ?? stack?.apiUrl;
  if (!url) throw new OdapiError("no API URL", "pass --url or deploy a stack", "usage");
  const caCert = caPem ?? stack?.caCertificate;
  return {
    url: withScheme(url),
    models: opts.models.length ? opts.models : (stack?.models ?? [DEFAULT_MODEL]),
    apiKey: opts.apiKey || env.ODAPI_API_KEY || stack?.apiKey || undefined,
    ...(caCert ? { caCert } : {}),
    source: opts.url ? "--url" : `stack ${opts.stack}`,
  };
}

/** --ca-cert's file: one or more PEM certificates, else a named error. */
export function readCaCertFile(file: string): string {
  const pem = readFlagFile(
    "--ca-cert",
    file,
    "pass the CA certificate file: the stack's caCertificate output (pulumi stack output caCertificate > ca.crt) or the ca.crt odapi deploy printed",
  );
  try {
    new X509Certificate(pem);
  } catch {
    throw new OdapiError(
      `--ca-cert ${file} holds no PEM certificate`,
      "pass the CA certificate (-----BEGIN CERTIFICATE-----), not a key or a request",
      "config",
    );
  }
  return pem;
}

/** What every request of a target carries: the key and the CA to verify the server with. */
export function requestAuth(t: Target): { apiKey?: string; caCert?: string } {
  return { apiKey: t.apiKey, ...(t.caCert ? { caCert: t.caCert } : {}) };
}

async function checkModel(t: Target, model: string, timeoutMs: number): Promise<ModelCheck> {
  const opts = { ...requestAuth(t), timeoutMs };
  const status = await getModelStatus(t.url, model, opts);
  requireAvailable(status, model);
  const input = encodedImageInput(await getModelMetadata(t.url, model, opts), model);
  return { name: model, versions: availableVersions(status), input };
}

/** Loads the images (local checks first), resolves the target, and checks every model, printing each. */
export async function openTarget(opts: ClientOptions, io: ClientIo): Promise<OpenTarget> {
  const images = await Promise.all(
    (
      await collectImagePaths(
        opts.images.length ? opts.images : [path.relative(process.cwd(), DEFAULT_IMAGE)],
      )
    ).map(loadImage),
  );
  const caPem = opts.caCert ? readCaCertFile(opts.caCert) : undefined;
  const stack = opts.url ? undefined : await readStack(opts.stack, PROJECT_ROOT);
  const target = resolveTarget(opts, io.env, stack, caPem);
  if (!opts.json)
    io.out(`${pc.bold("▶")} ${target.url}  (${target.source}${target.apiKey ? ", with API key" : ""})\n`);
  if (opts.waitSeconds) await waitForTarget(target, opts.waitSeconds, io);
  const checks: ModelCheck[] = [];
  for (const model of target.models) {
    const check = await checkModel(target, model, opts.timeoutMs);
    checks.push(check);
    if (!opts.json) io.out(`${modelLine(check)}\n`);
  }
  return { target, images, checks };
}

/** The deploy's readiness proof against the target: every model AVAILABLE, one detection each, within the wait. */
async function waitForTarget(t: Target, seconds: number, io: ClientIo): Promise<void> {
  await waitUntilServing(t.url, t.models, {
    ...requestAuth(t),
    deadlineMs: seconds * 1000,
    onProgress: (e) => io.err(`${describeReady(e)}\n`),
  });
}

export function processIo(): ClientIo {
  return {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    env: process.env,
    isTty: Boolean(process.stderr.isTTY),
  };
}
