// Cut connections, latency, cancel and a full disk: never a partial served version; reruns send only what is missing.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect, type SshSession } from "../../../bootstrap/ssh/session";
import { scanLocalModels, syncBundle } from "../../../bootstrap/transfer";
import { OdapiError } from "../../../common/errors";
import { type Sshd, startSshd } from "../../../scripts/harness/sshd";
import { startTcpProxy, type TcpProxy } from "../../../scripts/harness/tcp-proxy";
import {
  expectedHashes,
  fillDiskMidUpload,
  missingBytes,
  partialVersions,
  treeHashes,
  writeModels,
} from "./fixtures";

let sshd: Sshd;
let work: string;
const open: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  sshd = await startSshd();
});

afterAll(async () => {
  await sshd?.stop();
});

beforeEach(() => {
  work = mkdtempSync(path.join(os.tmpdir(), "odapi-resume-"));
});

afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
  rmSync(work, { recursive: true, force: true });
});

const scan = (dir: string) => scanLocalModels(dir, { cacheFile: false });

async function viaProxy(proxy: TcpProxy): Promise<SshSession> {
  const s = await connect(sshd.target({ port: proxy.port }), { readyTimeoutMs: 10_000 });
  open.push(s);
  return s;
}

async function direct(): Promise<SshSession> {
  const s = await connect(sshd.target(), { readyTimeoutMs: 10_000 });
  open.push(s);
  return s;
}

const BIG = "variables/variables.data-00000-of-00001";

test("a connection cut at ~50% of a large file: clear error, served version intact, rerun sends ≤ 1.1× the missing bytes", async () => {
  const models = path.join(work, "models");
  const remote = path.join(work, "remote");
  writeModels(models, { ssd: { "1": { [BIG]: 1_000_000 } } });
  await syncBundle(await direct(), { files: await scan(models), remoteDir: remote });
  const served = treeHashes(remote);

  // Version 1 changes: a new 24 MB variables file, sent over 4 channels through a proxy that cuts halfway.
  const size = 24 * 1024 * 1024;
  writeModels(models, { ssd: { "1": { [BIG]: size } } });
  const files = await scan(models);
  const proxy = await startTcpProxy({ port: sshd.port }, { kind: "pass" });
  open.push(proxy);
  const s = await viaProxy(proxy);
  proxy.setMode({ kind: "cut", bytes: proxy.stats().up + size / 2 });
  const err = await syncBundle(s, { files, remoteDir: remote, parallel: 4 }).catch((e) => e);

  expect(proxy.stats().cut).toBe(true);
  expect(err).toBeInstanceOf(OdapiError);
  expect(err.message).toMatch(/connection .* was lost/);
  expect(err.remedy).toMatch(/rerun/);
  expect(err.exitCode).toBe(3);
  // The served tree is exactly the old one; the new bytes wait in the non-numeric staging dir.
  expect(treeHashes(remote, [".odapi", "models"])).toEqual(new Map());
  const live = new Map([...treeHashes(remote)].filter(([k]) => k.startsWith("models/ssd/1/")));
  expect(live).toEqual(served);
  expect(readdirSync(path.join(remote, "models/ssd")).sort()).toEqual([".staging-1", "1"]);
  const staged = path.join(remote, "models/ssd/.staging-1", BIG);
  const missing = missingBytes(path.join(models, "ssd/1", BIG), staged);
  expect(missing).toBeGreaterThan(size * 0.3);
  expect(missing).toBeLessThan(size * 0.8);

  const res = await syncBundle(await direct(), { files, remoteDir: remote, parallel: 4 });
  expect(res.uploadedBytes).toBeLessThanOrEqual(1.1 * missing + 2048);
  expect(treeHashes(remote)).toEqual(expectedHashes(models));
  expect(readdirSync(path.join(remote, "models/ssd"))).toEqual(["1"]);
});

test("cut at many points of a first upload: never a partial numeric dir, and a rerun always completes", async () => {
  const models = path.join(work, "models");
  const remote = path.join(work, "remote");
  writeModels(models, {
    a: { "1": { [BIG]: 3_000_000, "variables/variables.index": 4000 } },
    b: { "3": { [BIG]: 1_000_000 } },
  });
  const files = await scan(models);
  const want = expectedHashes(models);
  const proxy = await startTcpProxy({ port: sshd.port }, { kind: "pass" });
  open.push(proxy);
  for (const fraction of [0.05, 0.3, 0.6, 0.9, 0.99, 1.02]) {
    // Each round is a first upload, so the cut point is a fraction of everything this sync has to send.
    rmSync(remote, { recursive: true, force: true });
    proxy.setMode({ kind: "pass" });
    const s = await viaProxy(proxy);
    const cutsBefore = proxy.stats().cuts;
    proxy.setMode({ kind: "cut", bytes: proxy.stats().up + Math.round(4_010_000 * fraction) });
    const outcome = await syncBundle(s, { files, remoteDir: remote, parallel: 2 }).then(
      () => "completed" as const,
      (e: unknown) => e,
    );
    if (fraction < 1) {
      // The cut landed inside the data: this sync was really broken, with the connection-lost error.
      expect(proxy.stats().cuts).toBe(cutsBefore + 1);
      expect(outcome).toBeInstanceOf(OdapiError);
      expect((outcome as OdapiError).exitCode).toBe(3);
    } else if (outcome === "completed") {
      // Past the data: a sync that finished must have finished right.
      expect(treeHashes(remote)).toEqual(want);
    } else {
      expect(outcome).toBeInstanceOf(OdapiError);
    }
    expect(partialVersions(remote, [want])).toEqual([]);
  }
  proxy.setMode({ kind: "pass" });
  await syncBundle(await viaProxy(proxy), { files, remoteDir: remote });
  expect(treeHashes(remote)).toEqual(want);
});

test("through an 80 ms round-trip delay proxy: more channels, identical tree", async () => {
  const models = path.join(work, "models");
  const remote = path.join(work, "remote");
  writeModels(models, {
    a: { "1": { [BIG]: 2_000_000, "assets/vocab.txt": 3000, "x/1.bin": 1000, "x/2.bin": 1000 } },
    b: { "1": { [BIG]: 500_000 } },
  });
  const files = await scan(models);
  const proxy = await startTcpProxy({ port: sshd.port }, { kind: "delay", ms: 40 });
  open.push(proxy);
  const res = await syncBundle(await viaProxy(proxy), { files, remoteDir: remote });
  expect(res.rttMs).toBeGreaterThanOrEqual(75);
  expect(res.channels).toBeGreaterThanOrEqual(4);
  expect(treeHashes(remote)).toEqual(expectedHashes(models));
});

test("Ctrl-C (abort) stops the upload with a resumable error and serves nothing partial", async () => {
  const models = path.join(work, "models");
  const remote = path.join(work, "remote");
  writeModels(models, { a: { "1": { [BIG]: 16_000_000 } } });
  const files = await scan(models);
  const ac = new AbortController();
  const err = await syncBundle(await direct(), {
    files,
    remoteDir: remote,
    signal: ac.signal,
    onProgress: (p) => {
      if (p.sentBytes > 0) ac.abort();
    },
  }).catch((e) => e);
  expect(err).toBeInstanceOf(OdapiError);
  expect(err.message).toMatch(/cancelled/);
  expect(existsSync(path.join(remote, "models/a/1"))).toBe(false);
  const res = await syncBundle(await direct(), { files, remoteDir: remote });
  expect(res.uploadedBytes).toBeLessThan(16_000_000);
  expect(treeHashes(remote)).toEqual(expectedHashes(models));
});

/** A small tmpfs as the remote disk; undefined when this machine cannot mount (not root, no privilege). */
function smallDisk(name: string, sizeKb: number, options = ""): string | undefined {
  const dir = path.join(work, name);
  mkdirSync(dir);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKb}k${options}`, "tmpfs", dir], {
      stdio: "ignore",
    });
  } catch {
    return undefined;
  }
  open.push({
    close: async () => {
      execFileSync("umount", ["-l", dir]);
    },
  });
  return dir;
}

test("a disk too small: refused before sending; a disk that fills up mid-upload: disk-full error, nothing served", async () => {
  const small = smallDisk("small", 6144);
  const medium = smallDisk("medium", 24 * 1024);
  if (!small || !medium) {
    console.warn("skipped: cannot mount a tmpfs here (needs root)");
    return;
  }
  const models = path.join(work, "models");
  writeModels(models, { a: { "1": { [BIG]: 8_000_000 } } });
  const s = await direct();
  const tooBig = await syncBundle(s, { files: await scan(models), remoteDir: path.join(small, "r") }).catch(
    (e) => e,
  );
  expect(tooBig).toBeInstanceOf(OdapiError);
  expect(tooBig.message).toMatch(/disk on 127.0.0.1 is full/);
  expect(tooBig.exitCode).toBe(7);
  expect(existsSync(path.join(small, "r/models"))).toBe(false);

  rmSync(models, { recursive: true });
  writeModels(models, { a: { "1": { [BIG]: 16_000_000 } } });
  const filler = fillDiskMidUpload(medium, 1_000_000);
  const midway = await syncBundle(s, {
    files: await scan(models),
    remoteDir: path.join(medium, "r"),
    parallel: 1,
    onProgress: filler.onProgress,
  }).catch((e) => e);
  expect(filler.filled()).toBe(true);
  expect(midway).toBeInstanceOf(OdapiError);
  expect(midway.message).toMatch(/disk on 127.0.0.1 is full/);
  expect(existsSync(path.join(medium, "r/models/a/1"))).toBe(false);
});

test("a read-only remote dir: permission error naming the fix", async () => {
  const disk = smallDisk("ro", 1024, ",ro");
  if (!disk) {
    console.warn("skipped: cannot mount a tmpfs here (needs root)");
    return;
  }
  const models = path.join(work, "models");
  writeModels(models, { a: { "1": {} } });
  const err = await syncBundle(await direct(), {
    files: await scan(models),
    remoteDir: path.join(disk, "r"),
  }).catch((e) => e);
  expect(err).toBeInstanceOf(OdapiError);
  expect(err.message).toMatch(/permission denied/);
  expect(err.remedy).toMatch(/remote-dir/);
});
