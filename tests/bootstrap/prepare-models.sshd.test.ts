// prepareOnRemote for real: a real OpenSSH server, the real remote-prepare.sh and prepare.py, a real SavedModel
// served as a tar.gz by a local "mirror". The host Python (the project venv) stands in for the Docker image,
// which this machine cannot run; the Docker branch is checked for its clear error when Docker is absent.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { prepareOnRemote } from "../../bootstrap/deploy/prepare-models";
import { connect, type SshSession } from "../../bootstrap/ssh/session";
import { catalogEntry } from "../../model-prep/catalog";
import { REPO_ROOT } from "../../model-prep/runners";
import { type Sshd, startSshd } from "../../scripts/harness/sshd";
import { runOdapi } from "../helpers/run";
import { sshCliArgs } from "../helpers/sshd-cli";
import { makeTempDir, removeDir } from "../helpers/tmp";
import { dockerEngineWorks } from "../helpers/tools";

jest.setTimeout(180_000);

const PYTHON = path.join(REPO_ROOT, ".venv", "bin", "python");
const NAME = "ssd_mobilenet_v2";

let sshd: Sshd;
let session: SshSession;
let work: string;
let archive: Buffer;
let server: http.Server;
let mirror: string;
const requests: string[] = [];

beforeAll(async () => {
  work = makeTempDir("odapi-remote-prep-");
  // A real detector SavedModel (the pytest helper's red-square detector), packed like a Kaggle archive.
  const model = path.join(work, "src");
  execFileSync(
    PYTHON,
    [
      "-c",
      "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; from mp_detectors import save_detector; save_detector(Path(sys.argv[2]), 10)",
      path.join(REPO_ROOT, "tests", "python", "model_prep"),
      model,
    ],
    { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: "3" }, stdio: ["ignore", "ignore", "pipe"] },
  );
  execFileSync("tar", ["-czf", path.join(work, "model.tar.gz"), "-C", model, "."]);
  archive = readFileSync(path.join(work, "model.tar.gz"));
  const handlePath = `/${catalogEntry(NAME).kaggleHandle}/download`;
  server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    if (req.url === handlePath) res.writeHead(200, { "Content-Length": archive.length }).end(archive);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sshd = await startSshd();
  await sshd.ready;
  session = await connect(sshd.target(), { readyTimeoutMs: 10_000 });
});

afterAll(async () => {
  await session?.close();
  await sshd?.stop();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  removeDir(work);
});

test("prepares a catalog model on the host, then skips it on rerun", async () => {
  const remoteDir = path.join(work, "remote");
  const log: string[] = [];
  const first = await prepareOnRemote(session, {
    catalog: [NAME],
    remoteDir,
    version: 1,
    mirror,
    python: PYTHON,
    log: (l) => log.push(l),
  });
  expect(first).toEqual({ prepared: [NAME], skipped: [] });
  const version = path.join(remoteDir, "models", NAME, "1");
  expect(existsSync(path.join(version, "saved_model.pb"))).toBe(true);
  expect(existsSync(path.join(version, "assets.extra", "tf_serving_warmup_requests"))).toBe(true);
  // Only the numeric version dir: the staging dir was renamed.
  expect(readdirSync(path.dirname(version))).toEqual(["1"]);
  // The archive's sha256 is recorded on the host.
  const sha = createHash("sha256").update(archive).digest("hex");
  expect(readFileSync(path.join(remoteDir, ".odapi", "cache", NAME, "sha256"), "utf8").trim()).toBe(sha);
  expect(log.some((l) => l.includes(`odapi-step: ${NAME} archive sha256 ${sha}`))).toBe(true);
  expect(requests.filter((u) => u.endsWith("/download"))).toHaveLength(1);

  const second = await prepareOnRemote(session, {
    catalog: [NAME],
    remoteDir,
    version: 1,
    mirror,
    python: PYTHON,
  });
  expect(second).toEqual({ prepared: [], skipped: [NAME] });
  expect(requests.filter((u) => u.endsWith("/download"))).toHaveLength(1);

  // The re-exported model on the "host" answers with encoded images.
  const check = spawnSync(
    PYTHON,
    [
      "-c",
      "import sys, tensorflow as tf; m = tf.saved_model.load(sys.argv[1]); " +
        "o = m.signatures['serving_default'](images=tf.constant([open(sys.argv[2], 'rb').read()])); " +
        "print(o['detection_boxes'].shape)",
      version,
      path.join(REPO_ROOT, "samples", "chelsea.jpg"),
    ],
    { encoding: "utf8", env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: "3" } },
  );
  expect(check.stdout.trim()).toBe("(1, 10, 4)");
});

test("a second version reuses the host's download cache", async () => {
  const remoteDir = path.join(work, "remote");
  const before = requests.length;
  const res = await prepareOnRemote(session, {
    catalog: [NAME],
    remoteDir,
    version: 2,
    mirror,
    python: PYTHON,
  });
  expect(res).toEqual({ prepared: [NAME], skipped: [] });
  expect(requests.length).toBe(before);
  expect(readdirSync(path.join(remoteDir, "models", NAME)).sort()).toEqual(["1", "2"]);
});

test("what the root-run script writes belongs to the owner of the remote dir", async () => {
  const remoteDir = path.join(work, "remote-owned");
  mkdirSync(remoteDir);
  chownSync(remoteDir, 4242, 4243);
  const res = await prepareOnRemote(session, {
    catalog: [NAME],
    remoteDir,
    version: 1,
    mirror,
    python: PYTHON,
  });
  expect(res.prepared).toEqual([NAME]);
  const owners = (rel: string) => {
    const s = statSync(path.join(remoteDir, rel));
    return `${s.uid}:${s.gid}`;
  };
  for (const rel of [
    "models",
    `models/${NAME}`,
    `models/${NAME}/1`,
    `models/${NAME}/1/saved_model.pb`,
    `models/${NAME}/1/assets.extra/tf_serving_warmup_requests`,
    `.odapi/cache/${NAME}/model.tar.gz`,
    `.odapi/cache/${NAME}/sha256`,
  ]) {
    expect([rel, owners(rel)]).toEqual([rel, "4242:4243"]);
  }
});

test("a local SavedModel is uploaded raw, prepared on the host, and not uploaded again", async () => {
  const remoteDir = path.join(work, "remote-custom");
  const model = path.join(work, "src");
  const log: string[] = [];
  const progress: { sentBytes: number; totalBytes: number }[] = [];
  const first = await prepareOnRemote(session, {
    catalog: [],
    savedModels: [{ name: "custom", dir: model }],
    remoteDir,
    version: 1,
    python: PYTHON,
    log: (l) => log.push(l),
    onUpload: (p) => progress.push(p),
  });
  expect(first).toEqual({ prepared: ["custom"], skipped: [] });
  expect(existsSync(path.join(remoteDir, "models", "custom", "1", "saved_model.pb"))).toBe(true);
  expect(readdirSync(path.join(remoteDir, "models", "custom"))).toEqual(["1"]);
  // The raw upload is gone once prepared; the version holds the weights.
  expect(readdirSync(path.join(remoteDir, ".odapi", "raw"))).toEqual([]);
  const total = progress.at(-1)?.totalBytes ?? 0;
  expect(total).toBeGreaterThan(0);
  expect(progress.at(-1)?.sentBytes).toBe(total);
  expect(log).toContain(`custom: uploading ${model}`);

  const again: string[] = [];
  const second = await prepareOnRemote(session, {
    catalog: [],
    savedModels: [{ name: "custom", dir: model }],
    remoteDir,
    version: 1,
    python: PYTHON,
    log: (l) => again.push(l),
  });
  expect(second).toEqual({ prepared: [], skipped: ["custom"] });
  expect(again.some((l) => l.includes("uploading"))).toBe(false);
});

test("odapi prepare --runner remote does the same from the command line", async () => {
  const remoteDir = path.join(work, "remote-cli");
  const r = await runOdapi(
    [
      "prepare",
      "--runner",
      "remote",
      ...sshCliArgs(sshd, { key: sshd.userKeyPath, remoteDir }),
      "--python",
      PYTHON,
      "--mirror",
      mirror,
      "--catalog",
      NAME,
      "--saved-model",
      path.join(work, "src"),
      "--name",
      "mine",
      "--json",
    ],
    { cwd: work },
  );
  expect(r.code).toBe(0);
  expect(r.stderr).toContain("runner: remote (--runner remote)");
  const out = JSON.parse(r.stdout);
  expect(out.runner).toBe("remote");
  expect(out.models).toEqual([
    { name: NAME, status: "prepared", path: path.join(remoteDir, "models", NAME, "1") },
    { name: "mine", status: "prepared", path: path.join(remoteDir, "models", "mine", "1") },
  ]);
});

test("a local dir without saved_model.pb is refused before anything is prepared", async () => {
  const remoteDir = path.join(work, "remote-custom-bad");
  await expect(
    prepareOnRemote(session, {
      catalog: [],
      savedModels: [{ name: "bad", dir: work }],
      remoteDir,
      version: 1,
    }),
  ).rejects.toThrow(`no SavedModel at ${work} (saved_model.pb is missing)`);
  expect(existsSync(path.join(remoteDir, "models", "bad"))).toBe(false);
});

test("a bad download URL fails with the script's clear error and leaves no version dir", async () => {
  const remoteDir = path.join(work, "remote-404");
  await expect(
    prepareOnRemote(session, {
      catalog: [NAME],
      remoteDir,
      version: 1,
      mirror: `${mirror}/nothing-here`,
      python: PYTHON,
    }),
  ).rejects.toThrow(/download of ssd_mobilenet_v2 failed/);
  expect(existsSync(path.join(remoteDir, "models", NAME, "1"))).toBe(false);
});

// Runs wherever Docker cannot start containers (no CLI, or no engine): the case this machine has.
const dockerWorks = dockerEngineWorks();
(dockerWorks ? test.skip : test)(
  "without a working Docker on the host the Docker branch says so",
  async () => {
    const remoteDir = path.join(work, "remote-nodocker");
    const err = await prepareOnRemote(session, { catalog: [NAME], remoteDir, version: 1, mirror }).catch(
      (e) => e,
    );
    expect(err.message).toMatch(/^(Docker is not installed|the Docker engine is not running) on the host$/);
    expect(err.remedy).toMatch(/prepare-host\.sh/);
    expect(existsSync(path.join(remoteDir, "models", NAME, "1"))).toBe(false);
  },
);

test("bad options fail before anything is uploaded", async () => {
  await expect(
    prepareOnRemote(session, { catalog: [NAME], remoteDir: "relative/dir", version: 1 }),
  ).rejects.toThrow(/is not absolute/);
  await expect(prepareOnRemote(session, { catalog: ["nope"], remoteDir: "/x", version: 1 })).rejects.toThrow(
    /unknown catalog model/,
  );
});
