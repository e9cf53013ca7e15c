import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { OdapiError } from "../../common/errors";
import { TF_SERVING_VERSION } from "../../common/pins";
import { shellJoin } from "../../common/shell";
import {
  minorOf,
  TENSORFLOW_IMAGE,
  TENSORFLOW_VERSION,
  tensorflowMatchesServing,
} from "../../model-prep/pins";
import { planSources } from "../../model-prep/plan";
import {
  chooseRunner,
  dockerPrepareArgv,
  ensureVenvArgv,
  parsePrepared,
  prepareFailure,
  REPO_ROOT,
  runLocalPrepare,
  venvPrepareArgv,
} from "../../model-prep/runners";
import { makeTempDir, removeDir } from "../helpers/tmp";
import { dockerEngineWorks } from "../helpers/tools";

const job = { name: "ssd_mobilenet_v2", savedModelDir: "/cache/ssd/saved_model" };
const opts = { outDir: "/work/models", version: 2, ifExists: "fail" as const };

describe("pins", () => {
  it("model-prep's TensorFlow has TF Serving's minor and matches requirements.txt", () => {
    expect(TENSORFLOW_IMAGE).toBe("tensorflow/tensorflow:2.20.0");
    expect(tensorflowMatchesServing()).toBe(true);
    expect(minorOf(TF_SERVING_VERSION)).toBe("2.20");
    expect(tensorflowMatchesServing("2.21.0", "2.20.0")).toBe(false);
    const req = readFileSync(path.join(REPO_ROOT, "model-prep", "requirements.txt"), "utf8");
    expect(req).toContain(`tensorflow-cpu==${TENSORFLOW_VERSION}\n`);
  });
});

describe("runner choice", () => {
  it("prefers venv when Python 3 exists, else docker, and says why", () => {
    expect(chooseRunner(undefined, { python: true })).toEqual({
      kind: "venv",
      reason: "Python 3 found: TensorFlow runs in the project venv (.venv)",
    });
    expect(chooseRunner(undefined, { python: false })).toEqual({
      kind: "docker",
      reason: "no Python 3 found: TensorFlow runs in the tensorflow/tensorflow:2.20.0 image",
    });
    expect(chooseRunner("remote", { python: true })).toEqual({ kind: "remote", reason: "--runner remote" });
  });
});

describe("runner argv (exact)", () => {
  it("venv", () => {
    expect(shellJoin(ensureVenvArgv("/repo"))).toBe("bash /repo/scripts/ensure-venv.sh");
    expect(shellJoin(venvPrepareArgv(job, { ...opts, warmupImage: "/s/a.jpg" }, "/repo"))).toBe(
      "/repo/.venv/bin/python /repo/model-prep/prepare.py --saved-model /cache/ssd/saved_model --out /work/models " +
        "--name ssd_mobilenet_v2 --version 2 --warmup-image /s/a.jpg --if-exists fail --json",
    );
  });

  it("docker: pinned image, read-only inputs, no network, caller's uid", () => {
    expect(
      shellJoin(
        dockerPrepareArgv(
          job,
          { ...opts, warmupImage: "/s/a b.jpg", maxDetections: 50 },
          { uid: 1000, gid: 100 },
          "/repo",
        ),
      ),
    ).toBe(
      "docker run --rm --network none --user 1000:100 -e HOME=/tmp -e TF_CPP_MIN_LOG_LEVEL=2 " +
        "-v /repo/model-prep:/odapi/tool:ro -v /cache/ssd/saved_model:/odapi/in:ro -v /work/models:/odapi/out " +
        "-v '/s/a b.jpg:/odapi/warmup-image:ro' tensorflow/tensorflow:2.20.0 python3 /odapi/tool/prepare.py " +
        "--saved-model /odapi/in --out /odapi/out --name ssd_mobilenet_v2 --version 2 " +
        "--warmup-image /odapi/warmup-image --if-exists fail --max-detections 50 --json",
    );
  });

  it("uses the shipped sample as the default warmup image", () => {
    const argv = venvPrepareArgv(job, opts);
    expect(argv[argv.indexOf("--warmup-image") + 1]).toBe(path.join(REPO_ROOT, "samples", "astronaut.jpg"));
  });
});

describe("prepare failures", () => {
  it("turns prepare.py's odapi-error line into an OdapiError with the matching exit code", () => {
    const err = prepareFailure(
      "venv",
      13,
      "prepare: loading\nodapi-error: not a detector | fix: pass a detector\n",
    );
    expect(err).toBeInstanceOf(OdapiError);
    expect(err.message).toBe("not a detector");
    expect(err.remedy).toBe("pass a detector");
    expect(err.exitCode).toBe(13);
    expect(prepareFailure("venv", 9, "odapi-error: gone | fix: look").exitCode).toBe(9);
  });

  it("explains a Docker that cannot run and an unexplained crash", () => {
    const d = prepareFailure(
      "docker",
      125,
      "docker: Cannot connect to the Docker daemon at unix:///var/run/docker.sock.",
    );
    expect(d.message).toMatch(/^Docker could not run the TensorFlow image/);
    expect(d.exitCode).toBe(12);
    const p = prepareFailure(
      "docker",
      126,
      "docker: permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock",
    );
    expect(p.message).toMatch(/^this user may not use the Docker engine/);
    expect(p.remedy).toMatch(/usermod -aG docker/);
    const c = prepareFailure("venv", 139, "Segmentation fault");
    expect(c.message).toBe("prepare.py failed (venv runner, exit 139): Segmentation fault");
  });

  it("parses the JSON result line, or says it is missing", () => {
    expect(parsePrepared('{"name":"a","version":1,"path":"/m/a/1","status":"prepared"}\n', "venv").path).toBe(
      "/m/a/1",
    );
    expect(() => parsePrepared("", "docker")).toThrow(/printed no result/);
  });
});

describe("planSources", () => {
  const base = { catalog: [], out: "models", version: 1, ifExists: "fail" as const };

  it("lists catalog models (Kaggle or mirror URL) then the custom one", () => {
    expect(
      planSources({
        ...base,
        catalog: ["efficientdet_d0"],
        savedModel: "./mine",
        name: "mine",
        mirror: "http://mirror.local/models/",
      }),
    ).toEqual([
      {
        kind: "catalog",
        name: "efficientdet_d0",
        url: "http://mirror.local/models/tensorflow/efficientdet/tensorFlow2/d0/1/download",
      },
      { kind: "saved-model", name: "mine", savedModelDir: "./mine" },
    ]);
  });

  it("accepts a SavedModel for the remote runner (uploaded raw, prepared there)", () => {
    expect(
      planSources({
        ...base,
        savedModel: "./x",
        name: "x",
        runner: "remote",
        host: "h",
        user: "u",
        remoteDir: "/r",
      }),
    ).toEqual([{ kind: "saved-model", name: "x", savedModelDir: "./x" }]);
  });

  it.each([
    [{}, /nothing to prepare/],
    [{ savedModel: "./x" }, /--saved-model needs --name/],
    [{ name: "x" }, /--name is for --saved-model/],
    [{ catalog: ["nope"] }, /unknown catalog model "nope"/],
    [{ catalog: ["efficientdet_d0"], version: 0 }, /not a positive integer/],
    [{ catalog: ["efficientdet_d0"], maxDetections: 0 }, /--max-detections 0/],
    [{ savedModel: "./x", name: "a/b" }, /model name "a\/b" is not allowed/],
    [{ catalog: ["efficientdet_d0"], savedModel: "./x", name: "efficientdet_d0" }, /named twice/],
    [
      { catalog: ["efficientdet_d0"], runner: "remote" },
      /--runner remote needs --host, --user, --remote-dir/,
    ],
  ])("rejects %j", (extra, message) => {
    expect(() => planSources({ ...base, ...(extra as object) })).toThrow(message);
  });
});

describe("docker runner without a Docker engine (this machine)", () => {
  const dockerWorks = dockerEngineWorks();
  (dockerWorks ? it.skip : it)("fails with a clear missingTool error and writes nothing", async () => {
    const out = makeTempDir("odapi-docker-");
    try {
      const err = await runLocalPrepare("docker", job, { ...opts, outDir: out }).catch((e) => e);
      expect(err).toBeInstanceOf(OdapiError);
      expect(err.exitCode).toBe(12);
      expect(err.message).toMatch(/Docker could not run the TensorFlow image|`docker` is not installed/);
      expect(readdirSync(out)).toEqual([]);
    } finally {
      removeDir(out);
    }
  });
});
