// `odapi publish`: upload prepared models (or catalog models it prepares first) to S3 for replicas that sync
// themselves (serving/sync-agent.ts).
import type { CommandModule } from "yargs";
import {
  checkPublishSource,
  type PublishOptions,
  publish,
  s3SettingsFromEnv,
} from "../bootstrap/publish/index";
import { requireReadableTree } from "../common/files";
import { CATALOG_NAMES } from "../model-prep/catalog";
import { chooseRunner, hasPython, RUNNERS, type RunnerKind } from "../model-prep/runners";
import { exitCodeHelp } from "./exit-codes";
import { MODELS_DIR_OPTION } from "./models-option";
import type { ModelOutcome } from "./prepare-local";
import { createProgress } from "./progress";

interface PublishArgs {
  bucket: string;
  prefix: string;
  models?: string;
  catalog?: string[];
  runner?: RunnerKind;
  version?: number;
  out: string;
  "cache-dir"?: string;
  refresh: boolean;
  mirror?: string;
  prune: boolean;
  json?: boolean;
}

/** The default version of a catalog publish: 1, as `odapi prepare` and `odapi deploy --catalog`, so a rerun is a no-op. */
export const DEFAULT_CATALOG_VERSION = 1;

/** Prepares the catalog models into --out with the venv or docker runner; a version already there is reused. */
async function prepareCatalog(
  names: string[],
  version: number,
  args: PublishArgs,
  say: (line: string) => void,
): Promise<ModelOutcome[]> {
  // Loaded only here (require, as cli/commands.ts explains): a --models publish never needs the catalog plan.
  const { planSources } = require("../model-prep/plan") as typeof import("../model-prep/plan");
  const sources = planSources({
    catalog: names,
    out: args.out,
    version,
    runner: args.runner,
    ifExists: "skip",
    mirror: args.mirror,
  });
  const runner = chooseRunner(args.runner, { python: args.runner ? true : hasPython() });
  say(`runner: ${runner.kind} (${runner.reason})`);
  // Likewise: a --models publish never needs the download code.
  const { prepareHere } = require("./prepare-local") as typeof import("./prepare-local");
  return prepareHere(
    runner.kind as "venv" | "docker",
    sources,
    { out: args.out, version, ifExists: "skip", cacheDir: args["cache-dir"], refresh: args.refresh },
    say,
  );
}

export const publishCommand: CommandModule<object, PublishArgs> = {
  command: "publish",
  builder: (y) =>
    y
      // `--version` is the model version here, as in `odapi prepare`, not the tool's version.
      .version(false)
      .usage(
        "$0 publish --bucket B [--prefix P] (--models DIR | --catalog NAME... [--runner venv|docker]) [--version N] [--prune] [--json]",
      )
      .option("bucket", {
        type: "string",
        demandOption: true,
        describe: "S3 bucket to publish into (must exist)",
      })
      .option("prefix", {
        type: "string",
        default: "odapi",
        describe:
          "Key prefix: files go to <prefix>/models/<name>/<version>/…, manifests to <prefix>/manifests/",
      })
      .option("models", MODELS_DIR_OPTION)
      .option("catalog", {
        type: "string",
        array: true,
        choices: CATALOG_NAMES,
        describe: "Catalog model(s) to download, prepare into --out and publish (instead of --models)",
      })
      .option("runner", {
        type: "string",
        choices: RUNNERS,
        describe:
          "Where TensorFlow prepares --catalog models: venv or docker (default venv when Python 3 exists); remote is refused",
      })
      .option("version", {
        type: "number",
        describe: `Version to publish as: --catalog prepares and publishes this version (default ${DEFAULT_CATALOG_VERSION}); --models publishes each model's one local version under it (default: as numbered)`,
      })
      .option("out", {
        type: "string",
        default: "models",
        describe: "Models root --catalog prepares <name>/<version>/ into (kept: a rerun reuses it)",
      })
      .option("cache-dir", {
        type: "string",
        describe:
          "Download cache for --catalog (default ~/.cache/object-detection-api/models or $ODAPI_CACHE_DIR)",
      })
      .option("refresh", { type: "boolean", default: false, describe: "Download catalog archives again" })
      .option("mirror", {
        type: "string",
        describe: "Base URL replacing https://www.kaggle.com/api/v1/models for --catalog",
      })
      .option("prune", {
        type: "boolean",
        default: false,
        describe:
          "Unpublish versions of these models that this publish does not hold (manifest first, then files); replicas then remove them",
      })
      .option("json", { type: "boolean", default: false, describe: "Print one JSON result object on stdout" })
      .epilogue(
        `Credentials, profile and region come from the standard AWS settings (AWS_PROFILE, ~/.aws, env, instance role; AWS_REGION). AWS_ENDPOINT_URL points at an S3-compatible server (path-style addressing). A version becomes visible to replicas only when its manifest is written, after all its files; files whose sha256 the bucket already holds are not sent again.
${exitCodeHelp(["unreachable", "auth", "notFound", "serverError", "missingTool"], {
  auth: "credentials refused, expired or missing, or access denied",
  notFound: "bucket, catalog download or prepared version not found",
  config: "no region, wrong region, bad AWS_ENDPOINT_URL or unreadable model files",
  missingTool: "--catalog: neither Python 3 (venv runner) nor Docker (docker runner) found",
})}`,
      )
      .example("$0 publish --bucket my-models --models ./models", "Publish every prepared model under odapi/")
      .example(
        "$0 publish --bucket my-models --catalog ssd_mobilenet_v2 --version 2",
        "Download and prepare a catalog model here, publish it as version 2",
      )
      .example(
        "AWS_ENDPOINT_URL=http://127.0.0.1:9000 $0 publish --bucket b --prefix team --models ./models --prune --json",
        "Publish to an S3-compatible server, unpublish removed versions, JSON result",
      ) as never,
  handler: async (args) => {
    const source = checkPublishSource(args);
    // Region and endpoint are checked before a catalog model spends minutes in TensorFlow.
    const settings = s3SettingsFromEnv(process.env);
    const say = (line: string) => process.stderr.write(`${line}\n`);
    let prepared: ModelOutcome[] | undefined;
    // Where the files come from and which of them go up, decided once per source.
    let files: Pick<PublishOptions, "modelsDir" | "only" | "asVersion">;
    if (source.kind === "catalog") {
      const version = args.version ?? DEFAULT_CATALOG_VERSION;
      prepared = await prepareCatalog(source.names, version, args, say);
      files = { modelsDir: args.out, only: { models: source.names, version } };
    } else {
      requireReadableTree(source.dir);
      files = { modelsDir: source.dir, ...(args.version !== undefined ? { asVersion: args.version } : {}) };
    }
    const progress = createProgress("publish", { enabled: !args.json });
    const log = (line: string) => (args.json ? say(line) : progress.log(line));
    try {
      const result = await publish({
        bucket: args.bucket,
        prefix: args.prefix,
        ...files,
        settings,
        prune: args.prune,
        onProgress: (p) => progress.update(p),
        log,
      });
      progress.stop();
      if (args.json) process.stdout.write(`${JSON.stringify(prepared ? { ...result, prepared } : result)}\n`);
      else
        process.stdout.write(
          `published ${result.models.join(", ")} to s3://${args.bucket}/${args.prefix} in ${result.seconds} s ` +
            `(${result.uploadedFiles} files uploaded, ${result.skippedFiles} unchanged)\n`,
        );
    } finally {
      progress.stop();
    }
  },
};
