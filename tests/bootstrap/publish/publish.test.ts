// odapi publish against a real S3-compatible server (moto) on 127.0.0.1: upload, incremental rerun, manifest last,
// nothing visible after a failure mid-way, and the errors a user meets (missing bucket, refused, unreachable).
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
} from "@aws-sdk/client-s3";
import { publishFiles } from "../../../bootstrap/publish";
import { crc32Base64, PART_SIZE, partRanges } from "../../../bootstrap/publish/upload";
import { scanLocalModels } from "../../../bootstrap/transfer";
import { COMMANDS } from "../../../cli/commands";
import { ExitCode } from "../../../common/errors";
import { startMoto } from "../../../scripts/harness/moto";
import { freePort } from "../../../scripts/harness/sshd";
import { savedModelFiles, writeModelTree } from "../../helpers/model-tree";
import { motoClient, useMoto } from "../../helpers/moto";
import { ODAPI_BIN, REPO_ROOT, runOdapi, runProcess } from "../../helpers/run";
import { tempDirPerTest } from "../../helpers/tmp";

jest.setTimeout(180_000);

const server = useMoto();
const dir = tempDirPerTest("odapi-publish-");
let bucketNo = 0;

async function newBucket(): Promise<string> {
  const bucket = `odapi-test-${++bucketNo}`;
  await server.s3().send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

async function keys(bucket: string, prefix = ""): Promise<string[]> {
  const page = await server.s3().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key as string).sort();
}

async function text(bucket: string, key: string): Promise<string> {
  const o = await server.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await o.Body?.transformToString()) ?? "";
}

function publishCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runOdapi(["publish", ...args, "--json"], {
    env: { ...server.moto().env, ODAPI_CACHE_DIR: path.join(dir(), "cache"), ...env },
  });
}

describe("odapi publish (moto S3 server)", () => {
  it("uploads every file with its sha256, writes one manifest per version, and a rerun sends nothing", async () => {
    const bucket = await newBucket();
    const models = path.join(dir(), "models");
    // 20 MiB variables: above the 8 MiB part size, so this file goes as a multipart upload of three parts.
    writeModelTree(models, [
      { model: "ssd", version: 1, files: savedModelFiles(20 * 1024 * 1024) },
      { model: "retina", version: 3, files: savedModelFiles(1000) },
    ]);
    const first = await publishCli(["--bucket", bucket, "--prefix", "team/odapi", "--models", models]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const r1 = JSON.parse(first.stdout);
    expect(r1).toMatchObject({
      ok: true,
      uploadedFiles: 6,
      skippedFiles: 0,
      hashedFiles: 6,
      models: ["retina", "ssd"],
    });
    expect(r1.uploadedBytes).toBe(2 * (4096 + 512) + 20 * 1024 * 1024 + 1000);
    expect(await keys(bucket)).toEqual([
      "team/odapi/manifests/retina/3.txt",
      "team/odapi/manifests/ssd/1.txt",
      "team/odapi/models/retina/3/saved_model.pb",
      "team/odapi/models/retina/3/variables/variables.data-00000-of-00001",
      "team/odapi/models/retina/3/variables/variables.index",
      "team/odapi/models/ssd/1/saved_model.pb",
      "team/odapi/models/ssd/1/variables/variables.data-00000-of-00001",
      "team/odapi/models/ssd/1/variables/variables.index",
    ]);
    const local = await scanLocalModels(models, { cacheFile: false });
    const big = local.find((f) => f.relPath === "models/ssd/1/variables/variables.data-00000-of-00001");
    const head = await server
      .s3()
      .send(new HeadObjectCommand({ Bucket: bucket, Key: `team/odapi/${big?.relPath}` }));
    expect(head.ContentLength).toBe(20 * 1024 * 1024);
    expect(head.Metadata?.sha256).toBe(big?.sha256);
    // Each part went with its CRC32, so the object holds S3's composite CRC32: that of the parts' CRC32s.
    const bigBytes = readFileSync(path.join(models, "ssd/1/variables/variables.data-00000-of-00001"));
    const partCrcs = partRanges(bigBytes.length, PART_SIZE).map(([a, b]) =>
      Buffer.from(crc32Base64(bigBytes.subarray(a, b + 1)), "base64"),
    );
    const checked = await server
      .s3()
      .send(
        new HeadObjectCommand({ Bucket: bucket, Key: `team/odapi/${big?.relPath}`, ChecksumMode: "ENABLED" }),
      );
    expect(checked.ChecksumCRC32?.replace(/-3$/, "")).toBe(crc32Base64(Buffer.concat(partCrcs)));
    const pb = await server.s3().send(
      new HeadObjectCommand({
        Bucket: bucket,
        Key: "team/odapi/models/ssd/1/saved_model.pb",
        ChecksumMode: "ENABLED",
      }),
    );
    expect(pb.ChecksumCRC32).toBe(crc32Base64(readFileSync(path.join(models, "ssd/1/saved_model.pb"))));
    const manifest = await text(bucket, "team/odapi/manifests/ssd/1.txt");
    expect(manifest.split("\n")).toEqual([
      "# odapi-manifest 1 ssd 1",
      ...local
        .filter((f) => f.relPath.startsWith("models/ssd/1/"))
        .map((f) => `${f.sha256} ${f.size} ${f.relPath.slice("models/ssd/1/".length)}`)
        .sort((a, b) => (a.split(" ")[2] as string).localeCompare(b.split(" ")[2] as string)),
      "",
    ]);

    const again = await publishCli(["--bucket", bucket, "--prefix", "team/odapi", "--models", models]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      ok: true,
      uploadedFiles: 0,
      uploadedBytes: 0,
      skippedFiles: 6,
      hashedFiles: 0,
    });
  });

  it("keeps a 0600 hash cache in $XDG_CACHE_HOME/odapi: a rerun reads no file, a changed one is read and re-sent", async () => {
    const bucket = await newBucket();
    const models = path.join(dir(), "models");
    // 9 MiB variables: a multipart upload of two 8 MiB-or-less parts, hashed before its CreateMultipartUpload.
    writeModelTree(models, [{ model: "ssd", version: 1, files: savedModelFiles(9 * 1024 * 1024) }]);
    const xdg = { ODAPI_CACHE_DIR: undefined, XDG_CACHE_HOME: path.join(dir(), "xdg") };
    const cacheFile = path.join(dir(), "xdg", "odapi", "local-hashes.json");
    const run = async (): Promise<Record<string, unknown>> => {
      const r = await publishCli(["--bucket", bucket, "--models", models], xdg);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout);
    };
    const sha256Of = async (rel: string) =>
      (await server.s3().send(new HeadObjectCommand({ Bucket: bucket, Key: `odapi/models/ssd/1/${rel}` })))
        .Metadata?.sha256;

    expect(await run()).toMatchObject({ uploadedFiles: 3, hashedFiles: 3, skippedFiles: 0 });
    expect(statSync(cacheFile).mode & 0o777).toBe(0o600);
    expect(await run()).toMatchObject({
      uploadedFiles: 0,
      uploadedBytes: 0,
      hashedFiles: 0,
      skippedFiles: 3,
    });

    // New bytes of the same size with the old mtime put back: the ctime gives it away, so it is read and re-sent.
    const pb = path.join(models, "ssd", "1", "saved_model.pb");
    const { atime, mtime } = statSync(pb);
    writeFileSync(pb, randomBytes(4096));
    utimesSync(pb, atime, mtime);
    const changed = await run();
    expect(changed).toMatchObject({ uploadedFiles: 1, uploadedBytes: 4096, hashedFiles: 1, skippedFiles: 2 });
    const local = await scanLocalModels(models, { cacheFile: false });
    const pbSha = local.find((f) => f.relPath.endsWith("saved_model.pb"))?.sha256;
    expect(await sha256Of("saved_model.pb")).toBe(pbSha);
    expect(await text(bucket, "odapi/manifests/ssd/1.txt")).toContain(`${pbSha} 4096 saved_model.pb`);

    // Only touched: read again, found equal to what the bucket holds, not sent.
    utimesSync(pb, new Date(), new Date(Date.now() + 5000));
    expect(await run()).toMatchObject({ uploadedFiles: 0, hashedFiles: 1, skippedFiles: 3 });

    // A corrupt cache is a cold one: everything read, nothing sent, a valid 0600 cache written again.
    writeFileSync(cacheFile, "{ not json", { mode: 0o644 });
    expect(await run()).toMatchObject({ uploadedFiles: 0, hashedFiles: 3, skippedFiles: 3 });
    expect(statSync(cacheFile).mode & 0o777).toBe(0o600);
    expect(await run()).toMatchObject({ uploadedFiles: 0, hashedFiles: 0, skippedFiles: 3 });
  });

  it("a --models publish loads the S3 client and none of the other commands' dependencies", async () => {
    const bucket = await newBucket();
    const models = path.join(dir(), "models");
    writeModelTree(models, [{ model: "ssd", version: 1, files: savedModelFiles(100) }]);
    const list = path.join(dir(), "loaded.txt");
    const r = await runProcess(
      process.execPath,
      [
        "--require",
        path.join(REPO_ROOT, "tests/helpers/loaded-modules.cjs"),
        ODAPI_BIN,
        "publish",
        "--bucket",
        bucket,
        "--models",
        models,
        "--json",
      ],
      {
        env: { ...server.moto().env, ODAPI_CACHE_DIR: path.join(dir(), "cache"), ODAPI_LOADED_MODULES: list },
      },
    );
    expect(r.code).toBe(0);
    const loaded = readFileSync(list, "utf8").split("\n");
    expect(loaded.some((m) => m.includes("node_modules/@aws-sdk/client-s3/"))).toBe(true);
    const heavy =
      /node_modules\/(ssh2|zx|cli-progress|cli-table3|jimp|@pulumi|@aws-sdk\/client-(ec2|auto-scaling|elastic-load-balancing-v2))\//;
    expect(loaded.filter((m) => heavy.test(m))).toEqual([]);
    // Neither other commands' modules nor the catalog's plan and download code.
    const others = COMMANDS.map((c) => c.name).filter((n) => n !== "publish");
    const unneeded = new RegExp(
      `/cli/(${others.join("|")}|prepare-local)\\.(js|ts)$|/model-prep/(plan|download/)`,
    );
    expect(loaded.filter((m) => unneeded.test(m))).toEqual([]);
  });

  it("a failure mid-way leaves no manifest: the version stays invisible, and a rerun completes it", async () => {
    const bucket = await newBucket();
    const models = path.join(dir(), "models");
    writeModelTree(models, [{ model: "ssd", version: 2, files: savedModelFiles(3 * 1024 * 1024) }]);
    const files = await scanLocalModels(models, { cacheFile: false });
    const gone = files.find((f) => f.relPath.endsWith("variables.index"));
    rmSync(gone?.localPath as string);
    const settings = { region: "us-east-1", endpoint: server.moto().endpoint, forcePathStyle: true };
    process.env.AWS_ACCESS_KEY_ID = "testing";
    process.env.AWS_SECRET_ACCESS_KEY = "testing";
    await expect(
      publishFiles(files, { bucket, prefix: "odapi", modelsDir: models, settings }),
    ).rejects.toThrow();
    expect(await keys(bucket, "odapi/manifests/")).toEqual([]);

    writeModelTree(models, [{ model: "ssd", version: 2, files: { "variables/variables.index": 512 } }]);
    const rerun = await publishCli(["--bucket", bucket, "--models", models]);
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.stdout).uploadedFiles).toBeGreaterThanOrEqual(1);
    expect(await keys(bucket, "odapi/manifests/")).toEqual(["odapi/manifests/ssd/2.txt"]);
  });

  it("--prune unpublishes versions the models dir no longer has: manifest and files", async () => {
    const bucket = await newBucket();
    const models = path.join(dir(), "models");
    writeModelTree(models, [
      { model: "ssd", version: 1, files: savedModelFiles(100) },
      { model: "ssd", version: 2, files: savedModelFiles(100) },
    ]);
    expect((await publishCli(["--bucket", bucket, "--models", models])).code).toBe(0);
    rmSync(path.join(models, "ssd", "1"), { recursive: true });
    const kept = await publishCli(["--bucket", bucket, "--models", models]);
    expect(JSON.parse(kept.stdout).retired).toEqual([]);
    expect(await keys(bucket, "odapi/manifests/")).toEqual([
      "odapi/manifests/ssd/1.txt",
      "odapi/manifests/ssd/2.txt",
    ]);
    const pruned = await publishCli(["--bucket", bucket, "--models", models, "--prune"]);
    expect(JSON.parse(pruned.stdout).retired).toEqual(["ssd/1"]);
    expect(await keys(bucket, "odapi/manifests/")).toEqual(["odapi/manifests/ssd/2.txt"]);
    expect(await keys(bucket, "odapi/models/ssd/1/")).toEqual([]);
  });

  it("--models DIR --version N publishes each model's one local version under N", async () => {
    const bucket = await newBucket();
    const models = path.join(dir(), "models");
    writeModelTree(models, [{ model: "ssd", version: 1, files: savedModelFiles(100) }]);
    const r = await publishCli(["--bucket", bucket, "--models", models, "--version", "7"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).manifests).toEqual(["odapi/manifests/ssd/7.txt"]);
    expect(await keys(bucket)).toEqual([
      "odapi/manifests/ssd/7.txt",
      "odapi/models/ssd/7/saved_model.pb",
      "odapi/models/ssd/7/variables/variables.data-00000-of-00001",
      "odapi/models/ssd/7/variables/variables.index",
    ]);
    expect((await text(bucket, "odapi/manifests/ssd/7.txt")).split("\n")[0]).toBe("# odapi-manifest 1 ssd 7");

    // Two local versions and one --version: which one is meant is unclear, so nothing is sent.
    writeModelTree(models, [{ model: "ssd", version: 2, files: savedModelFiles(100) }]);
    const two = await publishCli(["--bucket", bucket, "--models", models, "--version", "8"]);
    expect(two.code).toBe(ExitCode.usage);
    expect(two.stderr).toContain("--version 8 is ambiguous: ssd has versions 1, 2 in --models");
    expect(two.stderr).toContain("fix: point --models at a dir with one version per model");
    expect(await keys(bucket, "odapi/manifests/")).toEqual(["odapi/manifests/ssd/7.txt"]);
  });

  it("usage errors exit 2 with the fix: both sources, neither, --runner without --catalog, --runner remote", async () => {
    const models = path.join(dir(), "models");
    const cases: [string[], string, string][] = [
      [
        ["--models", models, "--catalog", "ssd_mobilenet_v2"],
        "error: --models and --catalog are two sources: pass one",
        "fix: publish prepared models with --models DIR, or catalog models with --catalog NAME",
      ],
      [[], "error: nothing to publish", "fix: pass --models DIR"],
      [
        ["--models", models, "--runner", "venv"],
        "error: --runner prepares --catalog models",
        "fix: drop --runner",
      ],
      [
        ["--catalog", "ssd_mobilenet_v2", "--runner", "remote"],
        "error: --runner remote prepares on an SSH host, but publish uploads from this machine",
        "fix: use --runner venv or --runner docker here",
      ],
      [
        ["--catalog", "ssd_mobilenet_v2", "--version", "0"],
        "error: model version 0 is not a positive integer",
        "fix: pass --version 1",
      ],
    ];
    for (const [args, problem, fix] of cases) {
      const r = await publishCli(["--bucket", "any", ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: ExitCode.usage });
      expect(r.stderr).toContain(problem);
      expect(r.stderr).toContain(fix);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { exitCode: ExitCode.usage } });
    }
  });

  it("a missing bucket: exit notFound, with the fix, nothing written", async () => {
    const models = path.join(dir(), "models");
    writeModelTree(models, [{ model: "ssd", version: 1, files: savedModelFiles(100) }]);
    const r = await publishCli(["--bucket", "no-such-bucket-here", "--models", models]);
    expect(r.code).toBe(ExitCode.notFound);
    expect(r.stderr).toContain("bucket s3://no-such-bucket-here does not exist");
    expect(r.stderr).toContain("aws s3 mb s3://no-such-bucket-here");
    expect(JSON.parse(r.stdout).ok).toBe(false);
  });

  it("an unreachable endpoint: exit unreachable, naming AWS_ENDPOINT_URL", async () => {
    const models = path.join(dir(), "models");
    writeModelTree(models, [{ model: "ssd", version: 1, files: savedModelFiles(100) }]);
    const closed = `http://127.0.0.1:${await freePort()}`;
    const r = await publishCli(["--bucket", "any-bucket", "--models", models], { AWS_ENDPOINT_URL: closed });
    expect(r.code).toBe(ExitCode.unreachable);
    expect(r.stderr).toContain(`cannot reach ${closed} (ECONNREFUSED)`);
    expect(r.stderr).toContain(`AWS_ENDPOINT_URL=${closed}`);
  });

  it("credentials the server never issued: exit auth, naming the credentials to check", async () => {
    // The one free request creates the bucket; from then on moto refuses keys it never issued.
    const strict = await startMoto({ authAfter: 1 });
    const admin = motoClient(strict);
    try {
      await admin.send(new CreateBucketCommand({ Bucket: "any-bucket" }));
      const models = path.join(dir(), "models");
      writeModelTree(models, [{ model: "ssd", version: 1, files: savedModelFiles(100) }]);
      const r = await runOdapi(["publish", "--bucket", "any-bucket", "--models", models], {
        env: { ...strict.env, ODAPI_CACHE_DIR: path.join(dir(), "cache") },
      });
      expect(r.stderr).toContain("S3 rejected the AWS credentials (InvalidAccessKeyId)");
      expect(r.stderr).toContain("AWS_ACCESS_KEY_ID");
      expect(r.code).toBe(ExitCode.auth);
    } finally {
      admin.destroy();
      await strict.stop();
    }
  });

  it("no region: exit config, saying to set AWS_REGION", async () => {
    const models = path.join(dir(), "models");
    writeModelTree(models, [{ model: "ssd", version: 1, files: savedModelFiles(100) }]);
    const r = await runOdapi(["publish", "--bucket", "b-x-y", "--models", models], {
      env: { ...server.moto().env, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined },
    });
    expect(r.code).toBe(ExitCode.config);
    expect(r.stderr).toContain("no AWS region set");
    expect(r.stderr).toContain("export AWS_REGION=");
  });
});
