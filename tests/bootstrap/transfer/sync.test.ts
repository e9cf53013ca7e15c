// syncBundle against a real OpenSSH server (127.0.0.1): identical trees, incremental reruns, atomic versions.
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { connect, type SshSession } from "../../../bootstrap/ssh/session";
import { bundleFileFromContent, scanLocalModels, syncBundle } from "../../../bootstrap/transfer";
import { MANIFEST_PATH } from "../../../bootstrap/transfer/manifest";
import { OdapiError } from "../../../common/errors";
import { type Sshd, startSshd } from "../../../scripts/harness/sshd";
import { tempDirPerTest } from "../../helpers/tmp";
import { countingSession, expectedHashes, partialVersions, treeHashes, writeModels } from "./fixtures";

let sshd: Sshd;
let session: SshSession;
const workDir = tempDirPerTest("odapi-transfer-");

beforeAll(async () => {
  sshd = await startSshd();
  session = await connect(sshd.target(), { readyTimeoutMs: 10_000 });
});

afterAll(async () => {
  await session?.close();
  await sshd?.stop();
});

const scan = (dir: string) => scanLocalModels(dir, { cacheFile: path.join(workDir(), "hash-cache.json") });

test("first sync makes the remote tree identical, a rerun sends nothing in one round trip", async () => {
  const models = path.join(workDir(), "models");
  writeModels(models, {
    ssd: { "1": { "variables/variables.data-00000-of-00001": 3_000_000, "variables/variables.index": 700 } },
    retina: {
      "2": {
        "variables/variables.data-00000-of-00001": 1_500_000,
        "assets.extra/tf_serving_warmup_requests": 9000,
      },
    },
  });
  const remote = path.join(workDir(), "remote");
  const config = bundleFileFromContent("config/models.config", "model_config_list {}\n", 0o644);
  const script = bundleFileFromContent("start.sh", "#!/bin/bash\necho start\n", 0o755);
  const files = [...(await scan(models)), config, script];
  const progress: number[] = [];

  const first = await syncBundle(session, {
    files,
    remoteDir: remote,
    onProgress: (p) => progress.push(p.sentBytes),
  });
  const total = files.reduce((s, f) => s + f.size, 0);
  expect(first).toMatchObject({ uploadedFiles: files.length, uploadedBytes: total, skippedFiles: 0 });
  expect(progress[progress.length - 1]).toBe(total);
  const want = new Map([
    ...expectedHashes(models),
    ["config/models.config", config.sha256],
    ["start.sh", script.sha256],
  ]);
  expect(treeHashes(remote)).toEqual(want);
  expect(statSync(path.join(remote, "start.sh")).mode & 0o777).toBe(0o755);
  expect(statSync(path.join(remote, "config/models.config")).mode & 0o777).toBe(0o644);
  const manifest = JSON.parse(readFileSync(path.join(remote, MANIFEST_PATH), "utf8"));
  expect(Object.keys(manifest.files).sort()).toEqual([...want.keys()].sort());
  // No staging dirs or temp names are left behind.
  expect(readdirSync(path.join(remote, "models/ssd"))).toEqual(["1"]);
  expect(readdirSync(remote).sort()).toEqual([".odapi", "config", "models", "start.sh"]);

  const counted = countingSession(session);
  const again = await syncBundle(counted.session, { files, remoteDir: remote });
  expect(again).toMatchObject({
    uploadedFiles: 0,
    uploadedBytes: 0,
    skippedFiles: files.length,
    channels: 0,
  });
  expect(counted.execs()).toBe(1);
});

test("one changed file: only it is sent, the version is swapped in whole, the rest hard-linked remotely", async () => {
  const models = path.join(workDir(), "models");
  writeModels(models, { ssd: { "1": { "variables/variables.data-00000-of-00001": 2_000_000 } } });
  const remote = path.join(workDir(), "remote");
  await syncBundle(session, { files: await scan(models), remoteDir: remote });
  const bigBefore = statSync(path.join(remote, "models/ssd/1/variables/variables.data-00000-of-00001"));

  writeFileSync(path.join(models, "ssd/1/saved_model.pb"), Buffer.from("a different graph"));
  const res = await syncBundle(session, { files: await scan(models), remoteDir: remote });
  expect(res.uploadedBytes).toBe("a different graph".length);
  expect(res.uploadedFiles).toBe(2); // the changed file sent, the unchanged one linked into the new version
  expect(treeHashes(remote)).toEqual(expectedHashes(models));
  const bigAfter = statSync(path.join(remote, "models/ssd/1/variables/variables.data-00000-of-00001"));
  expect(bigAfter.ino).toBe(bigBefore.ino); // same bytes on disk, not a re-send
  expect(readdirSync(path.join(remote, "models/ssd"))).toEqual(["1"]);

  // A new version number reuses identical remote content too.
  writeModels(models, { ssd: { "2": {} } });
  mkdirSync(path.join(models, "ssd/2/variables"), { recursive: true });
  copyFileSync(
    path.join(models, "ssd/1/variables/variables.data-00000-of-00001"),
    path.join(models, "ssd/2/variables/variables.data-00000-of-00001"),
  );
  const v2 = await syncBundle(session, { files: await scan(models), remoteDir: remote });
  expect(v2.uploadedBytes).toBe(2048); // only the new saved_model.pb
  expect(treeHashes(remote)).toEqual(expectedHashes(models));
});

test("versions the bundle lacks: left and reported by default, removed with prune after the new one is in place", async () => {
  const models = path.join(workDir(), "models");
  const remote = path.join(workDir(), "remote");
  writeModels(models, { ssd: { "3": {} } });
  await syncBundle(session, { files: await scan(models), remoteDir: remote });

  // A "rollback" to version 2: TF Serving would keep serving 3, the highest.
  rmSync(path.join(models, "ssd/3"), { recursive: true });
  writeModels(models, { ssd: { "2": {} } });
  const files = await scan(models);
  const kept = await syncBundle(session, { files, remoteDir: remote });
  expect(kept.staleVersions).toEqual([{ dir: "models/ssd/3", outranks: true, removed: false }]);
  expect(readdirSync(path.join(remote, "models/ssd")).sort()).toEqual(["2", "3"]);

  const pruned = await syncBundle(session, { files, remoteDir: remote, prune: true });
  expect(pruned.staleVersions).toEqual([{ dir: "models/ssd/3", outranks: true, removed: true }]);
  expect(pruned.uploadedBytes).toBe(0);
  expect(readdirSync(path.join(remote, "models/ssd"))).toEqual(["2"]);
  expect(treeHashes(remote)).toEqual(expectedHashes(models));
  const manifest = JSON.parse(readFileSync(path.join(remote, MANIFEST_PATH), "utf8"));
  expect(Object.keys(manifest.files).some((k) => k.startsWith("models/ssd/3/"))).toBe(false);

  const counted = countingSession(session);
  const again = await syncBundle(counted.session, { files, remoteDir: remote, prune: true });
  expect(again).toMatchObject({ uploadedBytes: 0, uploadedFiles: 0, staleVersions: [] });
  expect(counted.execs()).toBe(1); // a no-op again: just the state command
});

test("the manifest is checked, not trusted: a remote file changed behind its back is detected and re-sent", async () => {
  const models = path.join(workDir(), "models");
  writeModels(models, { ssd: { "1": { "variables/variables.index": 5000 } } });
  const remote = path.join(workDir(), "remote");
  const files = await scan(models);
  await syncBundle(session, { files, remoteDir: remote });

  // Same size, different bytes, new mtime: the manifest's entry no longer matches.
  const victim = path.join(remote, "models/ssd/1/variables/variables.index");
  writeFileSync(victim, Buffer.alloc(5000, 7));
  const fixed = await syncBundle(session, { files, remoteDir: remote });
  expect(fixed.uploadedBytes).toBe(5000);
  expect(treeHashes(remote)).toEqual(expectedHashes(models));

  // A lost manifest costs a remote re-hash, not a re-send.
  rmSync(path.join(remote, MANIFEST_PATH));
  const rehash = await syncBundle(session, { files, remoteDir: remote });
  expect(rehash).toMatchObject({ uploadedBytes: 0, skippedFiles: files.length });
  expect(JSON.parse(readFileSync(path.join(remote, MANIFEST_PATH), "utf8")).files).toHaveProperty([
    "models/ssd/1/variables/variables.index",
  ]);

  // A stray extra file in a live version makes it differ: the version is rebuilt without it.
  writeFileSync(path.join(remote, "models/ssd/1/stray.bin"), "x");
  await syncBundle(session, { files, remoteDir: remote });
  expect(treeHashes(remote)).toEqual(expectedHashes(models));
});

test("a watcher polling the remote never sees a partial numeric version dir", async () => {
  const models = path.join(workDir(), "models");
  const spec = Object.fromEntries(
    ["a", "b", "c"].map((n) => [
      n,
      { "1": { "variables/variables.data-00000-of-00001": 1_200_000, "x/y.bin": 30_000 } },
    ]),
  );
  writeModels(models, spec);
  const remote = path.join(workDir(), "remote");
  const want = expectedHashes(models);
  const problems: string[] = [];
  let looks = 0;
  let done = false;
  const watcher = (async () => {
    while (!done) {
      problems.push(...partialVersions(remote, [want]));
      looks++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  await syncBundle(session, { files: await scan(models), remoteDir: remote, parallel: 3 });
  done = true;
  await watcher;
  expect(looks).toBeGreaterThan(5);
  expect(problems).toEqual([]);
  expect(treeHashes(remote)).toEqual(want);
});

test("bad input and unusable remote dirs fail with a clear error before anything is sent", async () => {
  const f = bundleFileFromContent("config/x", "1", 0o644);
  await expect(syncBundle(session, { files: [f], remoteDir: "relative/dir" })).rejects.toMatchObject({
    exitCode: 2,
  });
  await expect(syncBundle(session, { files: [f, f], remoteDir: path.join(workDir(), "r") })).rejects.toThrow(
    /twice/,
  );
  await expect(
    syncBundle(session, { files: [f], remoteDir: path.join(workDir(), "r"), parallel: 0 }),
  ).rejects.toThrow(OdapiError);
  // A remote dir below a regular file cannot be created.
  writeFileSync(path.join(workDir(), "file"), "");
  const err = await syncBundle(session, { files: [f], remoteDir: path.join(workDir(), "file", "sub") }).catch(
    (e) => e,
  );
  expect(err).toBeInstanceOf(OdapiError);
  expect(err.message).toMatch(/Not a directory|failed/);
});

test("scanLocalModels rejects layouts TF Serving would not load", async () => {
  const models = path.join(workDir(), "models");
  writeModels(models, { ssd: { latest: {} } });
  await expect(scan(models)).rejects.toThrow(/not a numbered version dir/);
  rmSync(models, { recursive: true });
  writeModels(models, { ssd: { "1": {} } });
  rmSync(path.join(models, "ssd/1/saved_model.pb"));
  writeFileSync(path.join(models, "ssd/1/other.txt"), "x");
  await expect(scan(models)).rejects.toThrow(/no saved_model.pb/);
  await expect(scan(path.join(workDir(), "nope"))).rejects.toMatchObject({ exitCode: 2 });
  chmodSync(workDir(), 0o755);
});
