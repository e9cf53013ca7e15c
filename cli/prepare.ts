// `odapi prepare`: catalog names or a local SavedModel → models/<name>/<version>/ that TF Serving answers
// with base64 images. TensorFlow runs in the project venv, the pinned TensorFlow image, or on the target host.
import path from "node:path";
import type { CommandModule } from "yargs";
import { ensureDirArgv, ensureRemoteDir } from "../bootstrap/deploy/ensure-dir";
import { prepareOnRemote } from "../bootstrap/deploy/prepare-models";
import { loadPrivateKey } from "../bootstrap/ssh/keys";
import { connect } from "../bootstrap/ssh/session";
import { requireReadableTree } from "../common/files";
import { checkRemoteDir } from "../common/remote-dir";
import { CATALOG, CATALOG_NAMES } from "../model-prep/catalog";
import { type PrepareArgs, type PrepareSource, planSources } from "../model-prep/plan";
import { chooseRunner, hasPython, type IfExists, RUNNERS, type RunnerKind } from "../model-prep/runners";
import { SSH_EXIT_CODES } from "./connection-options";
import { exitCodeHelp } from "./exit-codes";
import { type ModelOutcome, prepareHere } from "./prepare-local";
import { createProgress } from "./progress";

interface CliArgs {
  catalog?: string[];
  "saved-model"?: string;
  name?: string;
  out: string;
  version: number;
  runner?: RunnerKind;
  "if-exists": IfExists;
  "max-detections"?: number;
  "cache-dir"?: string;
  refresh: boolean;
  mirror?: string;
  host?: string;
  port: number;
  user?: string;
  key?: string;
  "host-key"?: string;
  "remote-dir"?: string;
  python?: string;
  json: boolean;
  verbose: boolean;
}

function toPrepareArgs(a: CliArgs): PrepareArgs {
  return {
    catalog: a.catalog ?? [],
    savedModel: a["saved-model"],
    name: a.name,
    out: a.out,
    version: a.version,
    runner: a.runner,
    ifExists: a["if-exists"],
    maxDetections: a["max-detections"],
    mirror: a.mirror,
    host: a.host,
    user: a.user,
    remoteDir: a["remote-dir"],
  };
}

async function prepareRemote(
  sources: PrepareSource[],
  a: CliArgs,
  say: (line: string) => void,
): Promise<ModelOutcome[]> {
  const remoteDir = checkRemoteDir(a["remote-dir"] as string);
  const session = await connect(
    {
      host: a.host as string,
      port: a.port,
      user: a.user as string,
      privateKey: loadPrivateKey(a.key),
      hostKey: a["host-key"],
    },
    { deadlineMs: 60_000, log: say },
  );
  try {
    // As in deploy: on a fresh host the dir may need sudo to create (e.g. /opt/odapi as ubuntu).
    await ensureRemoteDir(session, { remoteDir, ensureDir: ensureDirArgv(remoteDir, session.target.user) });
    const upload = createProgress("upload");
    const res = await prepareOnRemote(session, {
      catalog: sources.filter((s) => s.kind === "catalog").map((s) => s.name),
      savedModels: sources.flatMap((s) =>
        s.kind === "saved-model" ? [{ name: s.name, dir: s.savedModelDir }] : [],
      ),
      onUpload: (p) => upload.update(p),
      remoteDir,
      version: a.version,
      mirror: a.mirror,
      python: a.python,
      log: (line) => upload.log(line),
    }).finally(() => upload.stop());
    const where = (name: string) => path.posix.join(remoteDir, "models", name, String(a.version));
    return [
      ...res.prepared.map((name) => ({ name, status: "prepared" as const, path: where(name) })),
      ...res.skipped.map((name) => ({ name, status: "skipped" as const, path: where(name) })),
    ];
  } finally {
    await session.close();
  }
}

export const prepareCommand: CommandModule<object, CliArgs> = {
  command: "prepare",
  builder: (y) =>
    y
      // `--version` is the model version here, as in `odapi deploy`, not the tool's version.
      .version(false)
      .usage(
        "$0 prepare [--catalog NAME ...] [--saved-model DIR --name NAME] --out models [--version N] [--runner venv|docker|remote]\n\n" +
          'Writes <out>/<name>/<version>/ whose serving_default takes encoded images (REST {"b64": ...}) and\n' +
          "returns detection_boxes/scores/classes/num_detections per image, with a warmup file.\n\n" +
          `Catalog:\n${CATALOG.map((e) => `  ${e.name.padEnd(34)} ${e.role.padEnd(8)} ${e.description}`).join("\n")}`,
      )
      .option("catalog", {
        type: "string",
        array: true,
        choices: CATALOG_NAMES,
        describe: "Catalog model(s) to download and prepare",
      })
      .option("saved-model", {
        type: "string",
        describe:
          "Your own TF2 detection SavedModel dir (input_tensor uint8 [1,H,W,3]); remote: uploaded raw, prepared there",
      })
      .option("name", { type: "string", describe: "Served name for --saved-model" })
      .option("out", {
        type: "string",
        default: "models",
        describe: "Models root to write <name>/<version>/ into",
      })
      .option("version", { type: "number", default: 1, describe: "Version dir number" })
      .option("runner", {
        type: "string",
        choices: RUNNERS,
        describe: "Where TensorFlow runs; default venv when Python 3 exists, else docker",
      })
      .option("if-exists", {
        type: "string",
        choices: ["fail", "skip", "replace"] as const,
        default: "fail" as IfExists,
        describe: "When <name>/<version> exists already (remote: always skip)",
      })
      .option("max-detections", {
        type: "number",
        describe: "Detections per image (default: the model's own N)",
      })
      .option("cache-dir", {
        type: "string",
        describe: "Download cache (default ~/.cache/object-detection-api/models or $ODAPI_CACHE_DIR)",
      })
      .option("refresh", { type: "boolean", default: false, describe: "Download catalog archives again" })
      .option("mirror", {
        type: "string",
        describe: "Base URL replacing https://www.kaggle.com/api/v1/models",
      })
      .group(
        ["host", "port", "user", "key", "host-key", "remote-dir", "python"],
        "Remote runner (--runner remote):",
      )
      .option("host", { type: "string", describe: "Target host" })
      .option("port", { type: "number", default: 22, describe: "SSH port" })
      .option("user", { type: "string", describe: "SSH user" })
      .option("key", {
        type: "string",
        describe: "Private key file (or env ODAPI_SSH_KEY with the key text)",
      })
      .option("host-key", { type: "string", describe: 'Expected host key, "ssh-ed25519 AAAA…"' })
      .option("remote-dir", {
        type: "string",
        describe: "Absolute dir on the target; models go to <dir>/models",
      })
      .option("python", {
        type: "string",
        describe: "Use this Python (with TensorFlow 2.20) on the host instead of Docker",
      })
      .option("json", { type: "boolean", default: false, describe: "Print one JSON object on stdout" })
      .example(
        "$0 prepare --catalog ssd_mobilenet_v2 retinanet_resnet50_v1_fpn_640x640",
        "the original's fast + accurate pair",
      )
      .example(
        "$0 prepare --saved-model ./exported/saved_model --name my_detector --version 2",
        "your own detector",
      )
      .example(
        "$0 prepare --catalog ssd_mobilenet_v2 --runner remote --host 1.2.3.4 --user ubuntu --key k.pem --remote-dir /opt/odapi",
        "prepare on the server (no TensorFlow here)",
      )
      .epilogue(
        exitCodeHelp([...SSH_EXIT_CODES, "locked", "remoteIo", "notFound", "missingTool"], {
          notFound: "model download not found",
        }),
      ) as never,
  handler: async (a) => {
    const started = Date.now();
    const sources = planSources(toPrepareArgs(a));
    for (const s of sources) if (s.kind === "saved-model") requireReadableTree(s.savedModelDir);
    const say = (line: string) => process.stderr.write(`${line}\n`);
    const runner = chooseRunner(a.runner, { python: a.runner ? true : hasPython() });
    say(`runner: ${runner.kind} (${runner.reason})`);
    const models =
      runner.kind === "remote"
        ? await prepareRemote(sources, a, say)
        : await prepareHere(
            runner.kind,
            sources,
            {
              out: a.out,
              version: a.version,
              ifExists: a["if-exists"],
              maxDetections: a["max-detections"],
              cacheDir: a["cache-dir"],
              refresh: a.refresh,
            },
            say,
          );
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    if (a.json) {
      process.stdout.write(`${JSON.stringify({ runner: runner.kind, models, seconds })}\n`);
      return;
    }
    for (const m of models)
      process.stdout.write(`${m.status === "prepared" ? "prepared" : "kept    "} ${m.name} → ${m.path}\n`);
    process.stdout.write(`done in ${seconds} s\n`);
  },
};
