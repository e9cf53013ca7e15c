// `odapi local` (npm run local): serve the prepared models with the local Docker engine, the same way a
// deployed host does (the rendered start.sh), wait until they are AVAILABLE, then run the test client once.
import { type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { CommandModule } from "yargs";
import { describeReady, waitUntilServing } from "../bootstrap/deploy/wait-ready";
import { OdapiError } from "../common/errors";
import { PROJECT_ROOT, projectFile } from "../common/paths";
import { catalogEntry } from "../model-prep/catalog";
import {
  type HostKind,
  renderServingFiles,
  SCRIPTS,
  type ServingOptions,
  servingImage,
  servingPorts,
} from "../serving";
import { exitCodeHelp } from "./exit-codes";

export const LOCAL_STATE_DIR = ".odapi/local";
export const DEFAULT_LOCAL_MODEL = "ssd_mobilenet_v2";

export interface LocalArgs {
  models: string;
  port: number;
  gpu: boolean;
  catalog: string;
  test: boolean;
  stop: boolean;
  timeout: number;
  json: boolean;
}

export interface LocalPlan {
  /** Absolute: where the configs and scripts are rendered (the "remoteDir" of local mode). */
  stateDir: string;
  modelsDir: string;
  /** Set when no model is prepared yet: the `odapi prepare` child process to run first. */
  prepareArgv?: string[];
  serving: ServingOptions;
  startArgv: string[];
  url: string;
  /** The test client run once at the end, unless --no-test. */
  testArgv?: string[];
}

/** Model dirs under modelsDir: name → numeric versions that hold a saved_model.pb. */
export type ModelListing = Record<string, number[]>;

/** Names of the models that have at least one servable version (pure). Dot dirs (staging, caches) never count. */
export function servableModels(listing: ModelListing): string[] {
  return Object.keys(listing)
    .filter((name) => !name.startsWith(".") && listing[name].length > 0)
    .sort();
}

/**
 * The argv that runs the test client against the local API (pure); the key, if any, travels in the env.
 * Every served model is named: with --url alone the client would test only its default model, which local
 * mode may not serve at all (e.g. ./models holds only efficientdet_d0).
 */
export function testClientArgv(url: string, models: string[]): string[] {
  return ["npx", "zx", "bootstrap/test-endpoint.mjs", "--url", url, ...models.flatMap((m) => ["--model", m])];
}

/** Everything local mode will do, decided without I/O. */
export function planLocal(input: {
  cwd: string;
  args: LocalArgs;
  listing: ModelListing;
  apiKey?: string;
}): LocalPlan {
  const { cwd, args, listing } = input;
  const stateDir = path.resolve(cwd, LOCAL_STATE_DIR);
  const modelsDir = path.resolve(cwd, args.models);
  const found = servableModels(listing);
  const models = found.length > 0 ? found : [args.catalog];
  const prepareArgv =
    found.length > 0
      ? undefined
      : [
          process.execPath,
          projectFile("bin", "odapi.cjs"),
          "prepare",
          "--catalog",
          args.catalog,
          "--out",
          modelsDir,
        ];
  const serving: ServingOptions = {
    host: args.gpu ? "gpu" : "cpu",
    remoteDir: stateDir,
    modelsHostDir: modelsDir,
    models: models.map((name) => ({ name })),
    publicPort: args.port,
    // Local mode serves this machine only.
    publicBind: "127.0.0.1",
    apiKey: input.apiKey,
  };
  const url = `http://127.0.0.1:${servingPorts(serving).public}`;
  return {
    stateDir,
    modelsDir,
    prepareArgv,
    serving,
    startArgv: ["bash", path.join(stateDir, SCRIPTS.start)],
    url,
    testArgv: args.test ? testClientArgv(url, models) : undefined,
  };
}

/** The OdapiError for an unusable Docker, from what `docker info` did (pure); undefined when Docker works. */
export function dockerProblem(
  r: Pick<SpawnSyncReturns<string>, "status" | "stderr" | "error"> & { stdout?: string },
  host: HostKind = "cpu",
): OdapiError | undefined {
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
    return new OdapiError(
      "Docker is not installed (no `docker` command on PATH); local mode runs TF Serving in a container",
      "install Docker Desktop (macOS, Windows) or Docker Engine (Linux): https://docs.docker.com/get-docker/ — then rerun `npm run local`; or deploy to a server with `odapi deploy`",
      "missingTool",
    );
  }
  if (r.status === 0) {
    // `docker info --format {{.Architecture}}`: the engine's CPU, which is what the container runs on.
    const arch = (r.stdout ?? "").trim();
    if (arch && !/^(x86_64|amd64)$/.test(arch)) {
      return new OdapiError(
        `the Docker engine runs on ${arch}, but the ${servingImage(host)} image exists for x86_64 only and crashes under emulation (Illegal instruction; tensorflow/serving#1948)`,
        "serve from an x86_64 machine, or deploy to one: `pulumi up -s cpu` or `odapi deploy --host …`",
        "missingTool",
      );
    }
    return undefined;
  }
  const detail = (r.stderr ?? "").trim().split("\n").pop() ?? "";
  if (/permission denied/i.test(detail)) {
    return new OdapiError(
      `this user may not use the Docker engine: ${detail}`,
      "add yourself to the docker group (sudo usermod -aG docker $USER, then log in again) or run as root",
      "missingTool",
    );
  }
  return new OdapiError(
    `the Docker engine is not running or not reachable${detail ? `: ${detail}` : ""}`,
    "start Docker Desktop, or the engine on Linux (sudo systemctl start docker); if only the docker CLI is installed, install Docker Engine: https://docs.docker.com/engine/install/",
    "missingTool",
  );
}

function checkDocker(host: HostKind): void {
  const r = spawnSync("docker", ["info", "--format", "{{.Architecture}}"], {
    encoding: "utf8",
    timeout: 30_000,
  });
  const problem = dockerProblem(r, host);
  if (problem) throw problem;
}

/** Reads modelsDir: every subdir and its numeric version dirs that hold a saved_model.pb. */
export function scanModels(modelsDir: string): ModelListing {
  const listing: ModelListing = {};
  if (!existsSync(modelsDir)) return listing;
  for (const name of readdirSync(modelsDir)) {
    const dir = path.join(modelsDir, name);
    if (!statSync(dir).isDirectory()) continue;
    listing[name] = readdirSync(dir)
      .filter((v) => /^\d+$/.test(v) && existsSync(path.join(dir, v, "saved_model.pb")))
      .map(Number)
      .sort((a, b) => a - b);
  }
  return listing;
}

/** Writes each rendered file via a temp name + rename, so a half-written config is never read. */
function writeRendered(stateDir: string, serving: ServingOptions): void {
  for (const file of renderServingFiles(serving)) {
    const target = path.join(stateDir, file.path);
    mkdirSync(path.dirname(target), { recursive: true });
    const temp = `${target}.tmp-${process.pid}`;
    writeFileSync(temp, file.content, { mode: file.mode });
    renameSync(temp, target);
  }
}

/** Runs a child; with --json its output goes to stderr so stdout stays one JSON object. */
function runChild(argv: string[], opts: { json: boolean; what: string; fix: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: PROJECT_ROOT,
      stdio: ["ignore", opts.json ? process.stderr : "inherit", "inherit"],
    });
    child.on("error", (err) =>
      reject(
        new OdapiError(`${opts.what} could not start: ${err.message}`, opts.fix, "failure", { cause: err }),
      ),
    );
    child.on("exit", (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new OdapiError(
            `${opts.what} failed (${signal ?? `exit ${code}`}); its message is above`,
            opts.fix,
            "failure",
          ),
        );
    });
  });
}

/** One progress line per wait event (stderr): what is loading, when it is up, the first detection. */
export async function runLocal(
  args: LocalArgs,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, unknown>> {
  const started = Date.now();
  const log = (m: string) => process.stderr.write(`odapi local: ${m}\n`);
  if (args.stop) {
    const stop = path.resolve(LOCAL_STATE_DIR, SCRIPTS.stop);
    if (!existsSync(stop)) return { stopped: false, reason: "nothing was started here" };
    checkDocker("cpu");
    await runChild(["bash", stop], { json: args.json, what: SCRIPTS.stop, fix: "see the message above" });
    return { stopped: true };
  }
  catalogEntry(args.catalog);
  // Docker first: fail in a second, not after a model download.
  checkDocker(args.gpu ? "gpu" : "cpu");
  let plan = planLocal({
    cwd: process.cwd(),
    args,
    listing: scanModels(path.resolve(args.models)),
    apiKey: env.ODAPI_API_KEY,
  });
  if (plan.prepareArgv) {
    log(`no prepared model in ${plan.modelsDir}: preparing ${args.catalog}`);
    await runChild(plan.prepareArgv, {
      json: args.json,
      what: "odapi prepare",
      fix: `prepare a model yourself (odapi prepare --catalog ${args.catalog} --out ${args.models}) and rerun`,
    });
    plan = planLocal({
      cwd: process.cwd(),
      args,
      listing: scanModels(plan.modelsDir),
      apiKey: env.ODAPI_API_KEY,
    });
    if (plan.prepareArgv) {
      throw new OdapiError(
        `odapi prepare left no servable model in ${plan.modelsDir}`,
        "run odapi prepare by hand and read its output",
        "failure",
      );
    }
  }
  writeRendered(plan.stateDir, plan.serving);
  const names = plan.serving.models.map((m) => m.name);
  log(`serving ${names.join(", ")} from ${plan.modelsDir} (configs in ${plan.stateDir})`);
  await runChild(plan.startArgv, {
    json: args.json,
    what: SCRIPTS.start,
    fix: "read the odapi-error line above",
  });
  // AVAILABLE, then one real detection per model: the same proof a deploy waits for.
  const ready = await waitUntilServing(plan.url, names, {
    apiKey: env.ODAPI_API_KEY,
    // From now: a model download in `odapi prepare` does not eat into the loading time.
    deadlineMs: args.timeout * 1000,
    onProgress: (e) => log(describeReady(e)),
  });
  if (plan.testArgv) {
    await runChild(plan.testArgv, {
      json: args.json,
      what: "the test client",
      fix: `rerun it: npx zx bootstrap/test-endpoint.mjs --url ${plan.url}`,
    });
  }
  log(`API at ${plan.url} — stop it with: npx odapi local --stop`);
  return { url: plan.url, models: names, ready, seconds: Math.round((Date.now() - started) / 100) / 10 };
}

export const localCommand: CommandModule<object, LocalArgs> = {
  command: "local",
  builder: (y) =>
    y
      .option("models", {
        type: "string",
        default: "models",
        describe: "Dir with prepared models/<name>/<version>/",
      })
      .option("port", {
        type: "number",
        default: 8501,
        describe: "Local port of the REST API (bound to 127.0.0.1)",
      })
      .option("gpu", {
        type: "boolean",
        default: false,
        describe: "Use the GPU image and --gpus all (NVIDIA toolkit needed)",
      })
      .option("catalog", {
        type: "string",
        default: DEFAULT_LOCAL_MODEL,
        describe: "Catalog model to prepare when the models dir has none",
      })
      .option("test", {
        type: "boolean",
        default: true,
        describe: "Run the test client once at the end (--no-test to skip)",
      })
      .option("stop", { type: "boolean", default: false, describe: "Stop and remove the local containers" })
      .option("timeout", {
        type: "number",
        default: 600,
        describe: "Seconds to wait, after the start, for every model to be AVAILABLE and answer",
      })
      .option("json", {
        type: "boolean",
        default: false,
        describe: "Print one JSON object (url, models, ready, seconds) on stdout",
      })
      .example("$0 local", "serve ./models (or prepare ssd_mobilenet_v2 first) on http://127.0.0.1:8501")
      .example(
        "ODAPI_API_KEY=$(openssl rand -hex 24) $0 local --port 9000",
        "the same behind the API-key gateway",
      )
      .epilogue(
        "Needs Docker (Desktop or Engine). The API key for the gateway comes only from the env var ODAPI_API_KEY.\n" +
          exitCodeHelp(["missingTool", "unreachable", "timeout", "notFound", "badRequest", "serverError"], {
            missingTool: "Docker missing, not running or not usable",
          }),
      ) as never,
  handler: async (args) => {
    const result = await runLocal(args);
    if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  },
};
