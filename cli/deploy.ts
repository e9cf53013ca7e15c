// `odapi deploy`: upload models + serving files over SSH, start TF Serving, prove it answers.
import type { CommandModule } from "yargs";
import { deploy } from "../bootstrap/deploy/index";
import { TRANSPORTS, type Transport } from "../bootstrap/transfer";
import { OdapiError } from "../common/errors";
import { requireReadableTree } from "../common/files";
import {
  type ConnectionArgs,
  connectOptionsFromArgs,
  SSH_EXIT_CODES,
  stderrLogger,
  targetFromArgs,
  withConnectionOptions,
} from "./connection-options";
import { deployTls, TLS_CERT_ENV, TLS_KEY_ENV } from "./deploy-tls";
import { exitCodeHelp } from "./exit-codes";
import { onFirstInterrupt } from "./interrupt";
import { MODELS_DIR_OPTION } from "./models-option";
import { createProgress } from "./progress";

export const API_KEY_ENV = "ODAPI_API_KEY";

interface DeployArgs extends ConnectionArgs {
  verbose?: boolean;
  models?: string;
  catalog?: string[];
  version: number;
  gpu: boolean;
  start: boolean;
  "public-port"?: number;
  wait: number;
  parallel?: string;
  transport: Transport;
  prune: boolean;
  "sample-image"?: string;
  "tls-cert"?: string;
  "tls-key"?: string;
  "idle-stop-minutes"?: number;
}

/** --parallel: a channel count or "auto" (pure). */
export function parseParallel(v: string | undefined): number | "auto" | undefined {
  if (v === undefined || v === "auto") return v;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new OdapiError(
      `--parallel ${v} is not a channel count`,
      "pass a number from 1 to 64, or auto",
      "usage",
    );
  }
  return n;
}

export const deployCommand: CommandModule<object, DeployArgs> = {
  command: "deploy",
  builder: (y) =>
    // `--version N` is the model version here, so yargs' own --version (print the tool's) is off for this command.
    withConnectionOptions(y.version(false))
      .option("models", MODELS_DIR_OPTION)
      .option("catalog", {
        type: "string",
        array: true,
        describe: "Catalog model(s) to prepare on the host itself (e.g. ssd_mobilenet_v2); repeatable",
      })
      .option("version", { type: "number", default: 1, describe: "Version number for --catalog models" })
      .option("gpu", {
        type: "boolean",
        default: false,
        describe: "GPU host: TF Serving's -gpu image; checks the NVIDIA driver and container toolkit",
      })
      .option("start", {
        type: "boolean",
        default: true,
        describe: "Run start.sh and wait for the models (--no-start: upload only)",
      })
      .option("public-port", { type: "number", describe: "Port clients use for the REST API (default 8501)" })
      .option("wait", {
        type: "number",
        default: 600,
        describe: "Seconds to wait after start for every model to be AVAILABLE and answer one detection",
      })
      .option("parallel", {
        type: "string",
        describe: "Upload channels: a number or auto (default: the upload engine's)",
      })
      .option("transport", {
        choices: TRANSPORTS,
        default: "auto" as Transport,
        describe:
          "What carries whole files: openssh = the system sftp client (fastest on fast links), ssh2 = built-in SSH channels; auto uses openssh when it is installed and one channel suffices",
      })
      .option("prune", {
        type: "boolean",
        default: false,
        describe:
          "Remove version dirs of the uploaded models that --models does not have (after the new ones are in place); without it they stay, with a warning when one would keep being served",
      })
      .option("sample-image", {
        type: "string",
        describe: "Image for the proof detection (default samples/astronaut.jpg)",
      })
      .option("tls-cert", {
        type: "string",
        describe:
          "With ODAPI_API_KEY: the gateway's certificate chain (PEM, leaf first), e.g. from an ACME client; default: a private CA made for --host and kept in ~/.config/odapi/tls/",
      })
      .option("tls-key", { type: "string", describe: "The private key (PEM, unencrypted) of --tls-cert" })
      .option("idle-stop-minutes", {
        type: "number",
        describe:
          "Cost guard: power the host off after N minutes without a model request (systemd timer; on EC2 stacks the instance stops and `odapi start` brings it back); 0 removes it; not given: left as it is",
      })
      .epilogue(
        `The gateway API key is read from env ${API_KEY_ENV} only (never from the command line, where other users could read it).
With a key the API port speaks HTTPS only: --tls-cert/--tls-key, or env ${TLS_CERT_ENV}/${TLS_KEY_ENV} (PEM text), or else a private CA for --host whose ca.crt path is printed (clients: --ca-cert FILE, curl --cacert FILE).
${exitCodeHelp(
  [
    ...SSH_EXIT_CODES,
    "locked",
    "remoteIo",
    "notFound",
    "badRequest",
    "notAnImage",
    "missingTool",
    "serverError",
  ],
  { notFound: "a model not found by TF Serving", notAnImage: "--sample-image is not an image" },
)}`,
      )
      .example(
        "$0 deploy --host 203.0.113.7 --user ubuntu --key ~/.ssh/labsuser.pem --models ./models --remote-dir /opt/odapi",
        "Deploy prepared models and wait until they answer",
      )
      .example(
        '$0 deploy --host 203.0.113.7 --user ubuntu --key k.pem --host-key "ssh-ed25519 AAAA…" --catalog ssd_mobilenet_v2 --remote-dir /opt/odapi --json',
        "Pinned host key, model prepared on the host, JSON result",
      ) as never,
  handler: async (args) => {
    const log = stderrLogger();
    const target = targetFromArgs(args);
    // Unreadable model files fail here, by name, not as EACCES in the middle of an upload.
    for (const input of [args.models, args["sample-image"]]) if (input) requireReadableTree(input);
    const apiKey = process.env[API_KEY_ENV] || undefined;
    const tls = deployTls({
      certFile: args["tls-cert"],
      keyFile: args["tls-key"],
      apiKey,
      host: target.host,
      env: process.env,
    });
    if (tls.caFile) {
      log(
        `HTTPS: the gateway's certificate is signed by a private CA for ${target.host} (${tls.issued ? "made now" : "reused"}): clients verify it with --ca-cert ${tls.caFile}`,
      );
    }
    const progress = createProgress("upload", { enabled: !args.json });
    const abort = new AbortController();
    const release = onFirstInterrupt(() => {
      log(
        "interrupted: stopping after the current step (finished files are kept; rerun to continue; Ctrl-C again quits at once)",
      );
      abort.abort();
    });
    try {
      const result = await deploy({
        target,
        remoteDir: args["remote-dir"],
        ...(args.models ? { modelsDir: args.models } : {}),
        ...(args.catalog ? { catalog: args.catalog } : {}),
        version: args.version,
        gpu: args.gpu,
        start: args.start,
        ...(apiKey ? { apiKey } : {}),
        ...(tls.identity ? { tls: tls.identity } : {}),
        ...(args["public-port"] ? { publicPort: args["public-port"] } : {}),
        ...(args["idle-stop-minutes"] !== undefined ? { idleStopMinutes: args["idle-stop-minutes"] } : {}),
        connect: connectOptionsFromArgs(args, log),
        waitDeadlineMs: args.wait * 1000,
        ...(args["sample-image"] ? { sampleImage: args["sample-image"] } : {}),
        ...(args.parallel ? { parallel: parseParallel(args.parallel) } : {}),
        transport: args.transport,
        prune: args.prune,
        signal: abort.signal,
        // --json: no bar, but log lines still go to stderr for whoever runs us (e.g. Pulumi's local.Command).
        log: (line) => (args.json ? log(line) : progress.log(line)),
        ...(args.verbose ? { debug: (line: string) => (args.json ? log : progress.log)(`  ${line}`) } : {}),
        onUpload: (p) => progress.update(p),
        onReady: (e) => {
          if (e.phase === "waiting")
            (args.json ? log : progress.log)(
              `${e.model}: waiting (${e.detail}), ${Math.round(e.elapsedMs / 1000)} s`,
            );
        },
      });
      progress.stop();
      if (args.json)
        process.stdout.write(
          `${JSON.stringify({ ...result, ...(tls.caFile ? { caCertFile: tls.caFile } : {}) })}\n`,
        );
      else {
        process.stdout.write(
          `deployed ${result.models.join(", ")} to ${target.host}:${args["remote-dir"]} in ${result.seconds} s ` +
            `(${result.uploadedFiles} files uploaded, ${result.skippedFiles} unchanged)\n`,
        );
      }
    } finally {
      progress.stop();
      release();
    }
  },
};
