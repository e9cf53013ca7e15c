// `npx zx bootstrap/test-endpoint.mjs`: prove a deployed detection API works — status, metadata, labelled
// detections with an annotated picture per image — or benchmark it (--bench).
import path from "node:path";
import { SingleBar } from "cli-progress";
import pc from "picocolors";
import yargs from "yargs";
import {
  availableVersions,
  encodedImageInput,
  getModelMetadata,
  getModelStatus,
  predict,
  requireAvailable,
} from "../client/api";
import { type BenchResult, batchBodies, checkBenchNumbers, runBench } from "../client/bench";
import { labelDetections, parseDetections } from "../client/detections";
import { collectImagePaths, type LocalImage, loadImage } from "../client/image";
import { writeAnnotated } from "../client/present/annotate";
import { histogramPlan, writeHistogram } from "../client/present/histogram";
import {
  annotatedName,
  type BenchReport,
  benchSummary,
  benchTable,
  comparisonTable,
  type DetectReport,
  detectionTable,
  detectSummary,
  type ImageResult,
  imageHeading,
  type ModelCheck,
  modelLine,
  progressPrefix,
  stamp,
  uniqueName,
} from "../client/present/report";
import { predictRequestBody } from "../client/request";
import { readStack, type StackTarget } from "../client/stack";
import {
  ExitCode,
  type ExitCodeName,
  exitCodeOf,
  formatError,
  isOdapiError,
  OdapiError,
} from "../common/errors";
import { writeFileAtomic } from "../common/files";
import { DEFAULT_SAMPLE_IMAGE, PROJECT_ROOT } from "../common/paths";

export const DEFAULT_MODEL = "ssd_mobilenet_v2";
export const DEFAULT_IMAGE = DEFAULT_SAMPLE_IMAGE;
/** The shell's convention for a run stopped by SIGINT (128 + 2). */
const INTERRUPTED = 130;

export interface ClientOptions {
  stack: string;
  url?: string;
  apiKey?: string;
  models: string[];
  images: string[];
  minScore: number;
  out: string;
  json: boolean;
  bench: boolean;
  requests: number;
  concurrency: number;
  warmup?: number;
  batch: number;
  timeoutMs: number;
}

export interface Target {
  url: string;
  models: string[];
  apiKey?: string;
  source: string;
}

class UsageError extends Error {}

/** Parses argv; undefined when --help or --version was printed. */
export async function parseArgs(
  argv: string[],
  print: (s: string) => void,
): Promise<ClientOptions | undefined> {
  let printed = false;
  const parser = yargs(argv)
    .scriptName("npx zx bootstrap/test-endpoint.mjs")
    .usage(
      "$0 [options]\n\nCheck a deployed object-detection API: model status and signature, then detections per image\n" +
        "(a table with COCO labels, scores and pixel boxes, plus an annotated copy), or a benchmark with --bench.\n" +
        "Without --url the API URL, models and API key come from `pulumi stack output -s <stack>`.",
    )
    .option("stack", { type: "string", default: "cpu", describe: "Pulumi stack to read (cpu, gpu, dev)" })
    .option("url", { type: "string", describe: "API base URL, e.g. http://203.0.113.7:8501 (skips Pulumi)" })
    .option("api-key", {
      type: "string",
      describe:
        "API key for the gateway (X-API-Key); prefer env ODAPI_API_KEY, argv is visible to other users",
    })
    .option("model", {
      type: "string",
      array: true,
      describe: `Model(s) to test; default: every model of the stack, or ${DEFAULT_MODEL} with --url`,
    })
    .option("image", {
      type: "string",
      array: true,
      describe: "Image file(s) or directories of JPEG/PNG/GIF/BMP; default: samples/astronaut.jpg",
    })
    .option("min-score", {
      type: "number",
      default: 0.5,
      describe: "Show detections with at least this score (0..1)",
    })
    .option("out", {
      type: "string",
      default: "out",
      describe: "Directory for annotated images and bench reports",
    })
    .option("json", {
      type: "boolean",
      default: false,
      describe: "Print exactly one JSON document instead of tables",
    })
    .option("timeout", { type: "number", default: 30_000, describe: "Per-request deadline in ms" })
    .option("verbose", { type: "boolean", default: false, describe: "Print stack traces on errors" })
    .option("bench", { type: "boolean", default: false, describe: "Benchmark instead of showing detections" })
    .option("requests", { type: "number", default: 100, describe: "Bench: measured requests per model" })
    .option("concurrency", {
      type: "number",
      default: 4,
      describe: "Bench: requests in flight (keep-alive connections)",
    })
    .option("warmup", {
      type: "number",
      describe: "Bench: unmeasured requests first; default max(5, concurrency)",
    })
    .option("batch", {
      type: "number",
      default: 1,
      describe:
        "Bench: images per request (the --image files in rotation); shows what TF Serving batching gains",
    })
    .example("$0", "stack cpu, every model, the sample photo")
    .example(
      "$0 --url http://203.0.113.7:8501 --image photos/ --min-score 0.3",
      "any server, a folder of images",
    )
    .example(
      "$0 --stack gpu --bench --requests 500 --concurrency 16 --model ssd_mobilenet_v2 --model efficientdet_d0",
      "compare two models side by side",
    )
    .epilogue(exitCodeHelp())
    .strict()
    .help()
    .alias("h", "help")
    .version(false)
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  const a = await parser.parseAsync(argv, {}, (_err, _argv, output) => {
    if (output) {
      printed = true;
      print(output);
    }
  });
  if (printed || a.help) return undefined;
  const minScore = a["min-score"];
  if (!(minScore >= 0 && minScore <= 1)) {
    throw new OdapiError(
      `--min-score must be between 0 and 1, got ${minScore}`,
      "pass e.g. --min-score 0.5",
      "usage",
    );
  }
  if (!(a.timeout > 0)) {
    throw new OdapiError(
      `--timeout must be a positive number of ms, got ${a.timeout}`,
      "pass e.g. --timeout 30000",
      "usage",
    );
  }
  const opts: ClientOptions = {
    stack: a.stack,
    url: a.url,
    apiKey: a["api-key"],
    models: (a.model ?? []).map(String),
    images: (a.image ?? []).map(String),
    minScore,
    out: a.out,
    json: a.json,
    bench: a.bench,
    requests: a.requests,
    concurrency: a.concurrency,
    warmup: a.warmup,
    batch: a.batch,
    timeoutMs: a.timeout,
  };
  if (opts.bench) checkBenchNumbers({ ...opts, warmup: opts.warmup ?? 0 });
  return opts;
}

const EXIT_MEANINGS: Partial<Record<ExitCodeName, string>> = {
  usage: "bad flags",
  unreachable: "unreachable",
  auth: "API key missing or wrong",
  timeout: "timeout",
  notFound: "unknown model (404)",
  badRequest: "request rejected (400)",
  notAnImage: "not an image",
  missingTool: "pulumi CLI missing",
  config: "stack or model not usable",
  serverError: "server error",
};

/** The exit-code list for --help, taken from the shared table so it cannot drift (pure). */
export function exitCodeHelp(): string {
  const parts = Object.entries(EXIT_MEANINGS).map(([k, v]) => `${ExitCode[k as ExitCodeName]} ${v}`);
  return `Exit codes: 0 ok, ${parts.join(", ")}, 1 anything else.`;
}

/** `203.0.113.7:8501` → `http://203.0.113.7:8501`: a bare host:port is what people paste (pure). */
export function withScheme(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
}

/** Where to send requests and with which key: flags first, then env, then the stack's outputs (pure). */
export function resolveTarget(opts: ClientOptions, env: NodeJS.ProcessEnv, stack?: StackTarget): Target {
  const url = opts.url ?? stack?.apiUrl;
  if (!url) throw new OdapiError("no API URL", "pass --url or deploy a stack", "usage");
  return {
    url: withScheme(url),
    models: opts.models.length ? opts.models : (stack?.models ?? [DEFAULT_MODEL]),
    apiKey: opts.apiKey || env.ODAPI_API_KEY || stack?.apiKey || undefined,
    source: opts.url ? "--url" : `stack ${opts.stack}`,
  };
}

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  isTty: boolean;
}

async function checkModel(t: Target, model: string, timeoutMs: number): Promise<ModelCheck> {
  const opts = { apiKey: t.apiKey, timeoutMs };
  const status = await getModelStatus(t.url, model, opts);
  requireAvailable(status, model);
  const input = encodedImageInput(await getModelMetadata(t.url, model, opts), model);
  return { name: model, versions: availableVersions(status), input };
}

async function detect(opts: ClientOptions, t: Target, images: LocalImage[], checks: ModelCheck[], io: Io) {
  const report: DetectReport = {
    ok: true,
    mode: "detect",
    url: t.url,
    source: t.source,
    minScore: opts.minScore,
    models: [],
  };
  let done = 0;
  const used = new Set<string>(); // two photos named a.jpg in different folders must not overwrite each other
  for (const check of checks) {
    const results: ImageResult[] = [];
    for (const img of images) {
      const t0 = performance.now();
      const response = await predict(t.url, check.name, predictRequestBody([img.bytes]), {
        apiKey: t.apiKey,
        timeoutMs: opts.timeoutMs,
      });
      const latencyMs = performance.now() - t0;
      const [raw] = parseDetections(response, 1);
      const detections = labelDetections(raw, img, opts.minScore);
      const annotated = path.join(opts.out, uniqueName(annotatedName(img.path, check.name), used));
      await writeAnnotated(img.bytes, detections, annotated);
      const r: ImageResult = {
        path: img.path,
        format: img.format,
        width: img.width,
        height: img.height,
        latencyMs,
        detections,
        total: raw.length,
        annotated,
      };
      results.push(r);
      if (!opts.json) {
        const prefix = progressPrefix(++done, checks.length * images.length);
        io.out(`\n${imageHeading(check.name, r, opts.minScore, prefix)}\n${detectionTable(detections)}\n`);
        io.out(`annotated → ${pc.cyan(annotated)}\n`);
      }
    }
    report.models.push({ ...check, images: results });
  }
  return report;
}

async function bench(opts: ClientOptions, t: Target, images: LocalImage[], checks: ModelCheck[], io: Io) {
  const bodies = batchBodies(images, opts.batch).map((group) =>
    JSON.stringify(predictRequestBody(group.map((img) => img.bytes))),
  );
  const warmup = opts.warmup ?? Math.max(5, opts.concurrency);
  const results: BenchResult[] = [];
  // First Ctrl-C: stop sending, let requests in flight finish, still write the report; second: quit now.
  const stop = new AbortController();
  const onSigint = () => {
    if (stop.signal.aborted) process.exit(INTERRUPTED);
    stop.abort();
    io.err(
      "\ninterrupted: finishing the requests in flight, then writing the report (Ctrl-C again quits now)\n",
    );
  };
  process.on("SIGINT", onSigint);
  try {
    for (const check of checks) {
      if (stop.signal.aborted) break;
      const bar =
        io.isTty && !opts.json
          ? new SingleBar({
              format: `${check.name} [{bar}] {value}/{total} requests · {duration}s`,
              stream: process.stderr,
            })
          : undefined;
      bar?.start(opts.requests, 0);
      try {
        results.push(
          await runBench({
            baseUrl: t.url,
            model: check.name,
            bodies,
            imagesPerRequest: opts.batch,
            requests: opts.requests,
            concurrency: opts.concurrency,
            warmup,
            apiKey: t.apiKey,
            timeoutMs: opts.timeoutMs,
            signal: stop.signal,
            onProgress: bar ? (done) => bar.update(done) : undefined,
          }),
        );
      } finally {
        bar?.stop();
      }
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
  const base = path.join(opts.out, `bench-${stamp(new Date())}`);
  const reportFile = `${base}.json`;
  const histogramFile = `${base}.png`;
  // The bitmap font has ASCII only.
  const title = `latency per request - ${opts.requests} requests at concurrency ${opts.concurrency} - ${t.url}`;
  await writeHistogram(
    histogramPlan(
      results.map((r) => ({ name: r.model, latencies: r.latencies, summary: r.latencyMs })),
      title,
    ),
    histogramFile,
  );
  const report: BenchReport = {
    ok: !stop.signal.aborted && results.every((r) => r.errors === 0),
    mode: "bench",
    url: t.url,
    source: t.source,
    images: images.map((i) => i.path),
    interrupted: stop.signal.aborted,
    models: results.map((r, i) => ({ ...checks[i], bench: benchSummary(r) })),
    report: reportFile,
    histogram: histogramFile,
  };
  // The file keeps the raw latencies too, so runs can be compared later.
  await writeFileAtomic(
    reportFile,
    `${JSON.stringify({ ...report, latenciesMs: Object.fromEntries(results.map((r) => [r.model, r.latencies])) }, null, 2)}\n`,
  );
  if (!opts.json) {
    io.out(`\n${benchTable(results)}\n`);
    if (stop.signal.aborted)
      io.out(`${pc.yellow("interrupted:")} the numbers cover the requests made before Ctrl-C\n`);
    io.out(`report → ${pc.cyan(reportFile)}\nhistogram → ${pc.cyan(histogramFile)}\n`);
  }
  const failed = results.flatMap((r) => r.errorSamples);
  return { report, failed, interrupted: stop.signal.aborted };
}

/** Runs the client; returns the process exit code. */
export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  let json = argv.includes("--json");
  try {
    const opts = await parseArgs(argv, io.out);
    if (!opts) return 0;
    json = opts.json;
    const images = await Promise.all(
      (
        await collectImagePaths(
          opts.images.length ? opts.images : [path.relative(process.cwd(), DEFAULT_IMAGE)],
        )
      ).map(loadImage),
    );
    const stack = opts.url ? undefined : await readStack(opts.stack, PROJECT_ROOT);
    const target = resolveTarget(opts, io.env, stack);
    if (!json)
      io.out(`${pc.bold("▶")} ${target.url}  (${target.source}${target.apiKey ? ", with API key" : ""})\n`);
    const checks: ModelCheck[] = [];
    for (const model of target.models) {
      const check = await checkModel(target, model, opts.timeoutMs);
      checks.push(check);
      if (!json) io.out(`${modelLine(check)}\n`);
    }
    if (!opts.bench) {
      const report = await detect(opts, target, images, checks, io);
      if (json) io.out(`${JSON.stringify(report, null, 2)}\n`);
      else {
        if (report.models.length > 1)
          io.out(`\n${pc.bold("models side by side")}\n${comparisonTable(report)}\n`);
        io.out(`\n${detectSummary(report, opts.out)}\n`);
      }
      return 0;
    }
    const { report, failed, interrupted } = await bench(opts, target, images, checks, io);
    if (json) io.out(`${JSON.stringify(report, null, 2)}\n`);
    if (interrupted) return INTERRUPTED;
    if (failed.length === 0) return 0;
    const worst = failed.reduce((a, b) => (b.count > a.count ? b : a));
    const total = failed.reduce((s, f) => s + f.count, 0);
    io.err(`error: ${total} benchmark request(s) failed; most often (${worst.count}×): ${worst.message}\n`);
    return worst.exitCode;
  } catch (err) {
    const e = err instanceof UsageError ? new OdapiError(err.message, "see --help", "usage") : err;
    io.err(`${formatError(e, argv.includes("--verbose"))}\n`);
    if (json) {
      const error = isOdapiError(e)
        ? { message: e.message, remedy: e.remedy, exitCode: e.exitCode }
        : { message: String(e), remedy: "", exitCode: exitCodeOf(e) };
      io.out(`${JSON.stringify({ ok: false, error }, null, 2)}\n`);
    }
    return exitCodeOf(e);
  }
}

function defaultIo(): Io {
  return {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    env: process.env,
    isTty: Boolean(process.stderr.isTTY),
  };
}
