// `odapi publish`: upload prepared models to S3 for replicas that sync themselves (serving/sync-agent.ts).
import type { CommandModule } from "yargs";
import { publish, s3SettingsFromEnv } from "../bootstrap/publish/index";
import { requireReadableTree } from "../common/files";
import { exitCodeHelp } from "./exit-codes";
import { createProgress } from "./progress";

interface PublishArgs {
  bucket: string;
  prefix: string;
  models: string;
  prune: boolean;
  json?: boolean;
}

export const publishCommand: CommandModule<object, PublishArgs> = {
  command: "publish",
  builder: (y) =>
    y
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
      .option("models", {
        type: "string",
        demandOption: true,
        describe: "Local dir of prepared models: <name>/<version>/saved_model.pb … (from `odapi prepare`)",
      })
      .option("prune", {
        type: "boolean",
        default: false,
        describe:
          "Unpublish versions of these models that --models no longer has (manifest first, then files); replicas then remove them",
      })
      .option("json", { type: "boolean", default: false, describe: "Print one JSON result object on stdout" })
      .epilogue(
        `Credentials, profile and region come from the standard AWS settings (AWS_PROFILE, ~/.aws, env, instance role; AWS_REGION). AWS_ENDPOINT_URL points at an S3-compatible server (path-style addressing). A version becomes visible to replicas only when its manifest is written, after all its files; files whose sha256 the bucket already holds are not sent again.
${exitCodeHelp(["unreachable", "auth", "notFound", "serverError"], {
  auth: "credentials refused, expired or missing, or access denied",
  notFound: "bucket not found",
  config: "no region, wrong region, bad AWS_ENDPOINT_URL or unreadable model files",
})}`,
      )
      .example("$0 publish --bucket my-models --models ./models", "Publish every prepared model under odapi/")
      .example(
        "AWS_ENDPOINT_URL=http://127.0.0.1:9000 $0 publish --bucket b --prefix team --models ./models --prune --json",
        "Publish to an S3-compatible server, unpublish removed versions, JSON result",
      ) as never,
  handler: async (args) => {
    const settings = s3SettingsFromEnv(process.env);
    requireReadableTree(args.models);
    const progress = createProgress("publish", { enabled: !args.json });
    const log = (line: string) => (args.json ? process.stderr.write(`${line}\n`) : progress.log(line));
    try {
      const result = await publish({
        bucket: args.bucket,
        prefix: args.prefix,
        modelsDir: args.models,
        settings,
        prune: args.prune,
        onProgress: (p) => progress.update(p),
        log,
      });
      progress.stop();
      if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
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
