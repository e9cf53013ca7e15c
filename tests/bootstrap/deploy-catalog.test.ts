// `odapi deploy --catalog NAME` end to end on one host: Docker is prepared before the remote runner needs it, the
// model is prepared on the host where models.config and start.sh look for it, and later deploys (the same catalog
// model, then with uploaded models beside it) neither re-prepare nor delete it.
// No Docker engine and no internet here: a recording `docker` that writes what prepare.py would (the version dir)
// and a `curl` that serves a SavedModel tarball sit on the sshd session's PATH; TF Serving is the REST double.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { writeDockerDouble } from "../helpers/docker-double";
import { type FakeServing, startFakeTfServing } from "../helpers/fake-tf-serving";
import { runOdapi } from "../helpers/run";
import { type SshdCliFixture, startSshdCliFixture } from "../helpers/sshd-cli";
import { writeModelVersion } from "../helpers/tmp";

// `docker run --rm … IMAGE python3 prepare.py --saved-model S --out O --name N --version V …` writes O/N/V.
const PREPARE_RUN = `  "run --rm")
    while [[ $# -gt 0 ]]; do
      case $1 in
        --saved-model) sm=$2; shift ;;
        --out) out=$2; shift ;;
        --name) name=$2; shift ;;
        --version) version=$2; shift ;;
      esac
      shift
    done
    [[ -f $sm/saved_model.pb ]] || { echo "no saved model at $sm" >&2; exit 13; }
    mkdir -p "$out/$name/$version/assets.extra"
    cp "$sm/saved_model.pb" "$out/$name/$version/saved_model.pb"
    echo warmup >"$out/$name/$version/assets.extra/tf_serving_warmup_requests" ;;
`;

let fx: SshdCliFixture;
let tmp: string;
let serving: FakeServing;
let callsFile: string;

beforeAll(async () => {
  let bin = "";
  fx = await startSshdCliFixture({
    tmpPrefix: "odapi-deploy-catalog-",
    sshd: (dir) => {
      const docker = writeDockerDouble(dir, { extraCases: PREPARE_RUN });
      ({ bin, callsFile } = docker);
      return { extraConfig: docker.sshdConfig };
    },
  });
  tmp = fx.tmp;
  // The catalog archive: a SavedModel at the root of a tar.gz, like Kaggle's.
  const archiveSrc = path.join(tmp, "archive-src");
  mkdirSync(archiveSrc);
  writeFileSync(path.join(archiveSrc, "saved_model.pb"), "raw detector");
  const tgz = path.join(tmp, "model.tar.gz");
  await new Promise((r) => spawn("tar", ["-czf", tgz, "-C", archiveSrc, "."]).on("close", r));
  // curl … -o FILE URL: copy the archive to FILE, whatever the URL.
  writeFileSync(
    path.join(bin, "curl"),
    `#!/usr/bin/env bash\nwhile [[ $# -gt 0 ]]; do [[ $1 == -o ]] && { out=$2; shift; }; shift; done\ncp ${tgz} "$out"\n`,
    { mode: 0o755 },
  );
  serving = await startFakeTfServing({ models: ["ssd_mobilenet_v2", "m"] });
  writeModelVersion(fx.modelsDir, "m", 1, { pb: "pb", index: "ix" });
}, 60_000);

afterAll(async () => {
  await serving?.close();
  await fx?.stop();
});

function deploy(remoteDir: string, extra: string[]) {
  const args = [
    ...["deploy", ...fx.conn(remoteDir), "--public-port", String(serving.port)],
    ...["--wait", "20", "--json", ...extra],
  ];
  return runOdapi(args, { cwd: tmp });
}

test("a catalog model is prepared on the host after Docker is ready, where models.config and start.sh expect it, and survives later deploys", async () => {
  const remoteDir = path.join(tmp, "remote");
  const first = await deploy(remoteDir, ["--catalog", "ssd_mobilenet_v2", "--version", "3"]);
  expect(first.stderr).not.toMatch(/^error:/m);
  expect(first.code).toBe(0);
  expect(JSON.parse(first.stdout)).toMatchObject({ models: ["ssd_mobilenet_v2"] });
  expect(first.stderr).toMatch(/catalog models: prepared ssd_mobilenet_v2/);

  const version = path.join(remoteDir, "models", "ssd_mobilenet_v2", "3");
  expect(readFileSync(path.join(version, "saved_model.pb"), "utf8")).toBe("raw detector");
  expect(readFileSync(path.join(remoteDir, "config", "models.config"), "utf8")).toContain(
    'base_path: "/models/ssd_mobilenet_v2"',
  );
  const calls = readFileSync(callsFile, "utf8").trim().split("\n");
  const prepare = calls.findIndex((c) => c.startsWith("run --rm"));
  // prepare-host.sh checked the engine and images before the runner used Docker; start.sh ran after it.
  expect(calls.findIndex((c) => c.startsWith("info"))).toBeLessThan(prepare);
  expect(calls.findIndex((c) => c.includes("--name odapi-serving"))).toBeGreaterThan(prepare);
  const st = statSync(remoteDir);
  expect(calls[prepare]).toContain(`--user ${st.uid}:${st.gid}`);
  expect(calls[prepare]).toContain(`-v ${remoteDir}:${remoteDir} `);
  expect(calls[prepare]).toContain(" tensorflow/tensorflow:2.20.0 python3 ");
  expect(calls.find((c) => c.includes("--name odapi-serving"))).toContain(
    `type=bind,source=${remoteDir}/models,target=/models,readonly`,
  );

  // Again, then with uploaded models beside it: the prepared version is skipped, never replaced or removed.
  const pb = statSync(path.join(version, "saved_model.pb"));
  const again = await deploy(remoteDir, ["--catalog", "ssd_mobilenet_v2", "--version", "3"]);
  expect(again.code).toBe(0);
  expect(again.stderr).toMatch(/already there ssd_mobilenet_v2/);
  const both = await deploy(remoteDir, [
    ...["--catalog", "ssd_mobilenet_v2", "--version", "3"],
    ...["--models", path.join(tmp, "models")],
  ]);
  expect(both.stderr).not.toMatch(/^error:/m);
  expect(both.code).toBe(0);
  expect(JSON.parse(both.stdout)).toMatchObject({ models: ["m", "ssd_mobilenet_v2"] });
  const after = statSync(path.join(version, "saved_model.pb"));
  expect([after.ino, after.mtimeMs]).toEqual([pb.ino, pb.mtimeMs]);
  expect(readFileSync(path.join(remoteDir, "models", "m", "1", "saved_model.pb"), "utf8")).toBe("pb");
  expect(readFileSync(callsFile, "utf8").match(/^run --rm/gm)).toHaveLength(1);
}, 180_000);
