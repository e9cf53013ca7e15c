// `odapi publish --catalog`: a catalog model downloaded from a local stand-in for Kaggle, prepared by the real
// prepare.py in the project venv (real TensorFlow), and published to a real moto S3 server under --version.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { catalogEntry } from "../../../model-prep/catalog";
import { useMoto } from "../../helpers/moto";
import { REPO_ROOT, runOdapi } from "../../helpers/run";
import { makeTempDir, removeDir } from "../../helpers/tmp";

jest.setTimeout(600_000);

const server = useMoto();
const PYTHON = path.join(REPO_ROOT, ".venv", "bin", "python");
const NAME = "ssd_mobilenet_v2";
let tmp: string;
let mirror: http.Server;
let mirrorUrl: string;
let downloads = 0;

beforeAll(async () => {
  tmp = makeTempDir("odapi-publish-catalog-");
  // The tests' own detector (tests/python/model_prep/mp_detectors.py), saved as a TF2 SavedModel.
  const detector = path.join(tmp, "detector");
  execFileSync(
    PYTHON,
    [
      "-c",
      "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); " +
        "from mp_detectors import save_detector; save_detector(Path(sys.argv[2]), rows=10)",
      path.join(REPO_ROOT, "tests", "python", "model_prep"),
      detector,
    ],
    { stdio: "inherit" },
  );
  // Served where --mirror points, under the catalog entry's Kaggle handle, as Kaggle's tar.gz.
  const archive = path.join(tmp, "model.tar.gz");
  execFileSync("tar", ["-czf", archive, "-C", detector, "."]);
  const body = readFileSync(archive);
  const wanted = `/${catalogEntry(NAME).kaggleHandle}/download`;
  mirror = http.createServer((req, res) => {
    if (req.url !== wanted) return void res.writeHead(404).end();
    downloads++;
    res.writeHead(200, { "content-length": body.length }).end(body);
  });
  await new Promise<void>((r) => mirror.listen(0, "127.0.0.1", r));
  mirrorUrl = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}`;
}, 300_000);

afterAll(async () => {
  await new Promise((r) => mirror?.close(r));
  if (tmp) removeDir(tmp);
});

async function keys(bucket: string, prefix: string): Promise<string[]> {
  const page = await server.s3().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key as string).sort();
}

function publishCatalog(bucket: string, extra: string[]) {
  const args = ["publish", "--bucket", bucket, "--catalog", NAME, "--runner", "venv", "--mirror", mirrorUrl];
  return runOdapi(
    [...args, "--out", path.join(tmp, "models"), "--cache-dir", path.join(tmp, "cache"), ...extra, "--json"],
    { env: { ...server.moto().env, ODAPI_CACHE_DIR: path.join(tmp, "hashes") } },
  );
}

test("a catalog model is downloaded, prepared in the venv and published as --version; a rerun prepares and sends nothing", async () => {
  const bucket = "catalog";
  await server.s3().send(new CreateBucketCommand({ Bucket: bucket }));
  const first = await publishCatalog(bucket, ["--version", "4"]);
  expect(first.stderr).toContain("runner: venv (--runner venv)");
  expect(first.stderr).not.toMatch(/^error:/m);
  expect(first.code).toBe(0);
  const out = JSON.parse(first.stdout);
  expect(out).toMatchObject({
    ok: true,
    models: [NAME],
    skippedFiles: 0,
    manifests: [`odapi/manifests/${NAME}/4.txt`],
  });
  expect(out.prepared).toEqual([expect.objectContaining({ name: NAME, status: "prepared" })]);
  expect(downloads).toBe(1);

  // The bucket holds exactly the prepared version dir under version 4, byte for byte, with its warmup file.
  const local = path.join(tmp, "models", NAME, "4");
  const objects = await keys(bucket, `odapi/models/${NAME}/`);
  expect(objects).toContain(`odapi/models/${NAME}/4/saved_model.pb`);
  expect(objects).toContain(`odapi/models/${NAME}/4/assets.extra/tf_serving_warmup_requests`);
  expect(objects.every((k) => k.startsWith(`odapi/models/${NAME}/4/`))).toBe(true);
  expect(out.uploadedFiles).toBe(objects.length);
  const pb = await server
    .s3()
    .send(new GetObjectCommand({ Bucket: bucket, Key: `odapi/models/${NAME}/4/saved_model.pb` }));
  const remote = Buffer.from((await pb.Body?.transformToByteArray()) ?? []);
  expect(remote.equals(readFileSync(path.join(local, "saved_model.pb")))).toBe(true);
  const manifest = await server
    .s3()
    .send(new GetObjectCommand({ Bucket: bucket, Key: `odapi/manifests/${NAME}/4.txt` }));
  const sha = createHash("sha256").update(remote).digest("hex");
  expect(await manifest.Body?.transformToString()).toContain(`${sha} ${remote.length} saved_model.pb\n`);

  // The prepared model is real: its serving_default takes encoded image bytes (prepare.py's contract).
  const sig = spawnSync(
    PYTHON,
    [
      "-c",
      "import sys, tensorflow as tf; m = tf.saved_model.load(sys.argv[1]); " +
        "print(m.signatures['serving_default'].structured_input_signature[1]['images'].dtype.name)",
      local,
    ],
    { encoding: "utf8" },
  );
  expect(sig.stdout.trim()).toBe("string");

  const again = await publishCatalog(bucket, ["--version", "4"]);
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({
    uploadedFiles: 0,
    uploadedBytes: 0,
    skippedFiles: objects.length,
  });
  expect(JSON.parse(again.stdout).prepared).toEqual([
    expect.objectContaining({ name: NAME, status: "skipped" }),
  ]);
  expect(downloads).toBe(1);
});

test("without --version a catalog model is published as version 1, and only that version of --out is sent", async () => {
  const bucket = "catalog-default";
  await server.s3().send(new CreateBucketCommand({ Bucket: bucket }));
  mkdirSync(path.join(tmp, "models"), { recursive: true });
  const r = await publishCatalog(bucket, []);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).manifests).toEqual([`odapi/manifests/${NAME}/1.txt`]);
  expect(await keys(bucket, "odapi/manifests/")).toEqual([`odapi/manifests/${NAME}/1.txt`]);
  // --out also holds version 4 from the test before: it stays local.
  const objects = await keys(bucket, "odapi/models/");
  expect(objects.length).toBeGreaterThan(0);
  expect(objects.every((k) => k.startsWith(`odapi/models/${NAME}/1/`))).toBe(true);
});
