// The OpenSSH sftp data path against a real OpenSSH server: identical trees with mixed transports, progress,
// the pinned host key, fallback when the client is missing, cut connections, cancel and a full disk.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect, type SshSession } from "../../../bootstrap/ssh/session";
import { bundleFileFromContent, scanLocalModels, syncBundle } from "../../../bootstrap/transfer";
import { OpenSshError, OpenSshSftp } from "../../../bootstrap/transfer/openssh-sftp";
import { OdapiError } from "../../../common/errors";
import { type Sshd, startSshd } from "../../../scripts/harness/sshd";
import { startTcpProxy, type TcpProxy } from "../../../scripts/harness/tcp-proxy";
import { tempDirPerTest } from "../../helpers/tmp";
import {
  expectedHashes,
  fillDiskMidUpload,
  missingBytes,
  partialVersions,
  sshdForThisFile,
  treeHashes,
  writeModels,
} from "./fixtures";

const workDir = tempDirPerTest("odapi-openssh-");
const { server, open } = sshdForThisFile();
let sshd: Sshd;
beforeAll(() => {
  sshd = server();
});
const BIG = "variables/variables.data-00000-of-00001";

const scan = (dir: string) => scanLocalModels(dir, { cacheFile: false });

async function session(port?: number): Promise<SshSession> {
  const s = await connect(sshd.target(port ? { port } : {}), { readyTimeoutMs: 10_000 });
  open.push(s);
  return s;
}

/** Runs `fn` with TMPDIR pointing at a fresh dir, so the client's temp key dirs can be counted. */
async function withTmpdir<T>(fn: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = path.join(workDir(), "tmpdir");
  mkdirSync(tmp, { recursive: true });
  const before = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    return await fn(tmp);
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
}

test("first sync: whole files over OpenSSH sftp, the rest over ssh2; identical tree, progress to the end, rerun sends nothing", async () => {
  const models = path.join(workDir(), "models");
  const remote = path.join(workDir(), "remote");
  writeModels(models, {
    ssd: { "1": { [BIG]: 12_000_000, "variables/variables.index": 3000, "assets/my vocab.txt": 500 } },
    rcnn: { "2": { [BIG]: 5_000_000 } },
  });
  const files = [
    ...(await scan(models)),
    bundleFileFromContent("config/models.config", "model_config_list {}\n", 0o644),
  ];
  const seen: number[] = [];
  const logs: string[] = [];
  const res = await withTmpdir(async (tmp) => {
    const r = await syncBundle(await session(), {
      files,
      remoteDir: remote,
      transport: "openssh",
      onProgress: (p) => seen.push(p.sentBytes),
      log: (l) => logs.push(l),
    });
    // The private key and known_hosts copies live only while the client runs.
    expect(readdirSync(tmp).filter((d) => d.startsWith("odapi-sftp-"))).toEqual([]);
    return r;
  });

  const want = expectedHashes(models);
  want.set("config/models.config", treeHashes(remote).get("config/models.config") as string);
  expect(treeHashes(remote)).toEqual(want);
  // The file with a space in its name and the in-memory config go over ssh2; the other files over OpenSSH.
  expect(res.opensshFiles).toBe(files.length - 2);
  expect(res.uploadedFiles).toBe(files.length);
  const total = files.reduce((n, f) => n + f.size, 0);
  expect(res.uploadedBytes).toBe(total);
  expect(seen.at(-1)).toBe(total);
  expect(seen.every((v, i) => i === 0 || v >= (seen[i - 1] as number))).toBe(true);
  expect(logs.join("\n")).toMatch(/with the OpenSSH sftp client/);

  const again = await syncBundle(await session(), { files, remoteDir: remote, transport: "openssh" });
  expect(again).toMatchObject({ uploadedBytes: 0, uploadedFiles: 0, opensshFiles: 0 });
});

test("the client trusts only the host key the SSH session verified", async () => {
  const s = await session();
  const other = await startSshd(); // same address, different host key
  open.push({ close: () => other.stop() });
  const client = new OpenSshSftp({ ...s.target, port: other.port });
  open.push(client);
  const err = await client.ready.catch((e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(/Host key verification failed|host key/i);

  const good = new OpenSshSftp(s.target);
  open.push(good);
  await expect(good.ready).resolves.toBeUndefined();
});

test("a server that never answers the client's handshake is given up on in time", async () => {
  const s = await session();
  const silent = await startTcpProxy({ port: sshd.port }, { kind: "blackhole" });
  open.push(silent);
  const client = new OpenSshSftp({ ...s.target, port: silent.port });
  open.push(client);
  await expect(client.readyWithin(500)).rejects.toThrow("not connected within 0.5 s");
});

test("auto falls back to ssh2 when the client is missing; --transport openssh then fails with the fix", async () => {
  const models = path.join(workDir(), "models");
  const remote = path.join(workDir(), "remote");
  writeModels(models, { ssd: { "1": { [BIG]: 9_000_000 } } });
  const files = await scan(models);
  const logs: string[] = [];
  const res = await syncBundle(await session(), {
    files,
    remoteDir: remote,
    transport: "auto",
    sftpBinary: "/nonexistent/sftp",
    log: (l) => logs.push(l),
  });
  expect(res.opensshFiles).toBe(0);
  expect(treeHashes(remote)).toEqual(expectedHashes(models));
  expect(logs.join("\n")).toMatch(/OpenSSH sftp not usable \(the OpenSSH sftp client .* is not installed\)/);

  const err = await syncBundle(await session(), {
    files,
    remoteDir: path.join(workDir(), "remote2"),
    transport: "openssh",
    sftpBinary: "/nonexistent/sftp",
  }).catch((e) => e);
  expect(err).toBeInstanceOf(OdapiError);
  expect(err.message).toMatch(/--transport openssh: the OpenSSH sftp client cannot be used/);
  expect(err.remedy).toMatch(/openssh-client/);
  expect(existsSync(path.join(workDir(), "remote2/models/ssd/1"))).toBe(false);
});

test("auto uses OpenSSH on a fast link, ssh2 channels on a slow one", async () => {
  const models = path.join(workDir(), "models");
  writeModels(models, { ssd: { "1": { [BIG]: 9_000_000 } } });
  const files = await scan(models);
  const fast = await syncBundle(await session(), {
    files,
    remoteDir: path.join(workDir(), "fast"),
    transport: "auto",
  });
  expect(fast.opensshFiles).toBe(2);
  const proxy = await startTcpProxy({ port: sshd.port }, { kind: "delay", ms: 20 });
  open.push(proxy);
  const slow = await syncBundle(await session(proxy.port), {
    files,
    remoteDir: path.join(workDir(), "slow"),
    transport: "auto",
  });
  expect(slow.channels).toBeGreaterThan(1);
  expect(slow.opensshFiles).toBe(0);
  expect(treeHashes(path.join(workDir(), "slow"))).toEqual(expectedHashes(models));
});

test("a connection cut mid-file: connection-lost error, nothing partial served, rerun resends ≤ 1.1× the missing bytes", async () => {
  const models = path.join(workDir(), "models");
  const remote = path.join(workDir(), "remote");
  const size = 24 * 1024 * 1024;
  writeModels(models, { ssd: { "1": { [BIG]: size } } });
  const files = await scan(models);
  const proxy: TcpProxy = await startTcpProxy({ port: sshd.port }, { kind: "pass" });
  open.push(proxy);
  const s = await session(proxy.port);
  proxy.setMode({ kind: "cut", bytes: proxy.stats().up + size / 2 });
  const err = await syncBundle(s, { files, remoteDir: remote, transport: "openssh" }).catch((e) => e);
  expect(proxy.stats().cut).toBe(true);
  expect(err).toBeInstanceOf(OdapiError);
  expect(err.message).toMatch(/connection to 127.0.0.1 was lost/);
  expect(err.exitCode).toBe(3);
  expect(existsSync(path.join(remote, "models/ssd/1"))).toBe(false);
  const want = expectedHashes(models);
  expect(partialVersions(remote, [want])).toEqual([]);
  const missing = missingBytes(
    path.join(models, "ssd/1", BIG),
    path.join(remote, "models/ssd/.staging-1", BIG),
  );
  expect(missing).toBeGreaterThan(0);
  expect(missing).toBeLessThan(size);

  // The rerun resumes the staged file over ssh2 ranges (OpenSSH only sends whole files).
  const res = await syncBundle(await session(), { files, remoteDir: remote, transport: "openssh" });
  expect(res.uploadedBytes).toBeLessThanOrEqual(1.1 * missing + 4096);
  expect(treeHashes(remote)).toEqual(want);
});

test("abort during an OpenSSH send: cancelled, the client is stopped, nothing partial served", async () => {
  const models = path.join(workDir(), "models");
  const remote = path.join(workDir(), "remote");
  writeModels(models, { a: { "1": { [BIG]: 40_000_000 } } });
  const files = await scan(models);
  // A slow link (8 MB/s) so the send is still running when we abort.
  const proxy = await startTcpProxy({ port: sshd.port }, { kind: "pass", bytesPerSecond: 8 * 1024 * 1024 });
  open.push(proxy);
  const ac = new AbortController();
  const err = await withTmpdir(async (tmp) => {
    const e = await syncBundle(await session(proxy.port), {
      files,
      remoteDir: remote,
      transport: "openssh",
      signal: ac.signal,
      onProgress: (p) => {
        if (p.sentBytes > 2_000_000) ac.abort();
      },
    }).catch((x) => x);
    expect(readdirSync(tmp).filter((d) => d.startsWith("odapi-sftp-"))).toEqual([]);
    return e;
  });
  expect(err).toBeInstanceOf(OdapiError);
  expect(err.message).toMatch(/upload cancelled/);
  expect(existsSync(path.join(remote, "models/a/1"))).toBe(false);
  const res = await syncBundle(await session(), { files, remoteDir: remote, transport: "openssh" });
  expect(res.uploadedBytes).toBeLessThan(40_000_000);
  expect(treeHashes(remote)).toEqual(expectedHashes(models));
});

test("a disk that fills up during an OpenSSH send: disk-full error, nothing served", async () => {
  // Not under workDir(): that is removed before this file's afterEach could unmount it.
  const disk = mkdtempSync(path.join(os.tmpdir(), "odapi-openssh-disk-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", disk], { stdio: "ignore" });
  } catch {
    rmSync(disk, { recursive: true, force: true });
    console.warn("skipped: cannot mount a tmpfs here (needs root)");
    return;
  }
  try {
    const models = path.join(workDir(), "models");
    writeModels(models, { a: { "1": { [BIG]: 16_000_000 } } });
    const filler = fillDiskMidUpload(disk, 0);
    const err = await syncBundle(await session(), {
      files: await scan(models),
      remoteDir: path.join(disk, "r"),
      transport: "openssh",
      onProgress: filler.onProgress,
    }).catch((e) => e);
    expect(filler.filled()).toBe(true);
    expect(err).toBeInstanceOf(OdapiError);
    expect(err.message).toMatch(/disk on 127.0.0.1 is full/);
    expect(err.exitCode).toBe(7);
    expect(existsSync(path.join(disk, "r/models/a/1"))).toBe(false);
  } finally {
    execFileSync("umount", ["-l", disk]);
    rmSync(disk, { recursive: true, force: true });
  }
});

test("an sftp failure is reported as an OpenSshError with the SFTP status", async () => {
  const s = await session();
  const client = new OpenSshSftp(s.target);
  open.push(client);
  const local = path.join(workDir(), "f.bin");
  writeFileSync(local, "x");
  const err = await client
    .send([{ localPath: local, remotePath: path.join(workDir(), "no/such/dir/f.bin"), size: 1 }], {
      onStart: () => undefined,
      onDone: () => undefined,
    })
    .catch((e) => e);
  expect(err).toBeInstanceOf(OpenSshError);
  expect(err.failure).toMatchObject({ kind: "sftp", op: "open", code: 2 });
});
