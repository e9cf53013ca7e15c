// The client's flags (`odapi detect`, `odapi bench` and the test-endpoint shim) and their checks, as typed options.
import type { Argv } from "yargs";
import { checkBenchNumbers } from "../client/bench";
import { type ExitCodeName, OdapiError } from "../common/errors";
import { DEFAULT_SAMPLE_IMAGE } from "../common/paths";
import { exitCodeHelp } from "./exit-codes";

export const DEFAULT_MODEL = "ssd_mobilenet_v2";
export const DEFAULT_IMAGE = DEFAULT_SAMPLE_IMAGE;

export interface ClientOptions {
  stack: string;
  url?: string;
  apiKey?: string;
  /** --ca-cert: PEM file of the CA the https server must chain to. */
  caCert?: string;
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
  /** detect --wait: seconds to wait for every model to be AVAILABLE and answer first; 0/undefined: no wait. */
  waitSeconds?: number;
}

/** What parsing the client's flags yields, before the checks. */
export interface ClientArgs {
  stack: string;
  url?: string;
  "api-key"?: string;
  "ca-cert"?: string;
  model?: (string | number)[];
  image?: (string | number)[];
  "min-score"?: number;
  out: string;
  json: boolean;
  timeout: number;
  requests?: number;
  concurrency?: number;
  warmup?: number;
  batch?: number;
  wait?: number;
}

export const TARGET_GROUP = "Target and output:";
export const BENCH_GROUP = "Bench:";

/** --stack --url --api-key --model --image --out --json --timeout: where to send what, shared by detect and bench. */
export function withTargetOptions<T>(y: Argv<T>): Argv<T & ClientArgs> {
  return y
    .option("stack", { type: "string", default: "cpu", describe: "Pulumi stack to read (cpu, gpu, dev)" })
    .option("url", { type: "string", describe: "API base URL, e.g. http://203.0.113.7:8501 (skips Pulumi)" })
    .option("api-key", {
      type: "string",
      describe:
        "API key for the gateway (X-API-Key); prefer env ODAPI_API_KEY, argv is visible to other users",
    })
    .option("ca-cert", {
      type: "string",
      describe:
        "PEM file of the CA that signed the server's certificate (a stack's caCertificate output, or the ca.crt `odapi deploy` printed); default with a stack: its caCertificate, else the system's CAs",
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
    .option("timeout", {
      type: "number",
      default: 30_000,
      describe: "Per-request deadline in ms",
    }) as Argv<T & ClientArgs>;
}

/** --min-score: which detections to show; --wait: wait until the API serves before detecting. */
export function withDetectOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option("min-score", {
      type: "number",
      default: 0.5,
      describe: "Show detections with at least this score (0..1)",
    })
    .option("wait", {
      type: "number",
      default: 0,
      describe:
        "Seconds to wait first until every model is AVAILABLE and answers one detection (the deploy's readiness proof), e.g. while a load balancer's replicas start",
    });
}

/** --requests --concurrency --warmup --batch: the load a benchmark puts on the server. */
export function withBenchOptions<T>(y: Argv<T>, group?: string): Argv<T> {
  return y
    .option("requests", {
      type: "number",
      default: 100,
      group,
      describe: "Bench: measured requests per model",
    })
    .option("concurrency", {
      type: "number",
      default: 4,
      group,
      describe: "Bench: requests in flight (keep-alive connections)",
    })
    .option("warmup", {
      type: "number",
      group,
      describe: "Bench: unmeasured requests first; default max(5, concurrency)",
    })
    .option("batch", {
      type: "number",
      default: 1,
      group,
      describe:
        "Bench: images per request (the --image files in rotation); shows what TF Serving batching gains",
    });
}

/** The exit codes a client run can end with. */
const CLIENT_EXIT_CODES: ExitCodeName[] = [
  "unreachable",
  "auth",
  "hostKey",
  "timeout",
  "notFound",
  "badRequest",
  "notAnImage",
  "missingTool",
  "config",
  "serverError",
];

export function clientExitCodeHelp(): string {
  return exitCodeHelp(CLIENT_EXIT_CODES, {
    auth: "API key missing or wrong",
    hostKey: "the server's TLS certificate is not trusted (see --ca-cert)",
    notFound: "unknown model (404)",
    badRequest: "request rejected (400)",
    missingTool: "pulumi CLI missing",
    config: "stack, model or file not usable",
  });
}

export const CLIENT_DESCRIPTION =
  "Without --url the API URL, models and API key come from `pulumi stack output -s <stack>`.";

/** Checks the parsed flags and returns the client's options (bench: the load flags count). */
export function toClientOptions(a: ClientArgs, bench: boolean): ClientOptions {
  const minScore = a["min-score"] ?? 0.5;
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
  const wait = a.wait ?? 0;
  if (!(wait >= 0)) {
    throw new OdapiError(`--wait must be 0 or more seconds, got ${wait}`, "pass e.g. --wait 600", "usage");
  }
  const opts: ClientOptions = {
    stack: a.stack,
    url: a.url,
    apiKey: a["api-key"],
    ...(a["ca-cert"] ? { caCert: a["ca-cert"] } : {}),
    models: (a.model ?? []).map(String),
    images: (a.image ?? []).map(String),
    minScore,
    out: a.out,
    json: a.json,
    bench,
    requests: a.requests ?? 100,
    concurrency: a.concurrency ?? 4,
    warmup: a.warmup,
    batch: a.batch ?? 1,
    timeoutMs: a.timeout,
    waitSeconds: wait,
  };
  if (bench) checkBenchNumbers({ ...opts, warmup: opts.warmup ?? 0 });
  return opts;
}
