// What an upload starts before the remote state is read: the OpenSSH client logs in alongside a connect when the
// host key is pinned; a rerun of the bundle a destination received last starts nothing until the state asks,
// and a wrong guess (the remote dir was emptied) still uploads everything. Against a real OpenSSH server.
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { connect, type SshSession, type SshTarget } from "../../../bootstrap/ssh/session";
import { bundleFileFromContent, scanLocalModels, startEarly, syncBundle } from "../../../bootstrap/transfer";
import {
  bundleDigest,
  destinationKey,
  recordLastSync,
  sameAsLastSync,
} from "../../../bootstrap/transfer/last-sync";
import { type Sshd, startSshd } from "../../../scripts/harness/sshd";
import { tempDirPerTest } from "../../helpers/tmp";
import { expectedHashes, sshdForThisFile, treeHashes, writeModels } from "./fixtures";

const workDir = tempDirPerTest("odapi-last-sync-");
const { server, open } = sshdForThisFile();
let sshd: Sshd;
beforeAll(() => {
  sshd = server();
});

async function session(): Promise<SshSession> {
  const s = await connect(sshd.target(), { readyTimeoutMs: 10_000 });
  open.push(s);
  return s;
}

/** An `sftp` that appends a line to `log` each time it is started, then runs the real client. */
function countingSftp(dir: string): { binary: string; starts(): number } {
  const log = path.join(dir, "sftp-starts");
  const binary = path.join(dir, "sftp");
  writeFileSync(binary, `#!/bin/sh\necho started >> '${log}'\nexec sftp "$@"\n`);
  chmodSync(binary, 0o755);
  return {
    binary,
    starts: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).length : 0),
  };
}

/** startEarly over the OpenSSH transport for a one-file model set, with no last-sync guess, opened for cleanup. */
async function earlyStart(connecting: Promise<SshSession>, target: SshTarget, sftpBinary: string) {
  const models = path.join(workDir(), "models");
  writeModels(models, { ssd: { "1": { "variables/variables.data-00000-of-00001": 100_000 } } });
  const early = startEarly(connecting, {
    files: await scanLocalModels(models, { cacheFile: false }),
    remoteDir: path.join(workDir(), "remote"),
    target,
    transport: "openssh",
    sftpBinary,
    lastSyncFile: false,
  });
  open.push(early);
  return early;
}

describe("pure", () => {
  const a = bundleFileFromContent("config/a", "a", 0o644);
  const b = bundleFileFromContent("models/m/1/saved_model.pb", "b", 0o644);

  test("the bundle digest ignores order and changes with content or mode", () => {
    expect(bundleDigest([a, b])).toBe(bundleDigest([b, a]));
    expect(bundleDigest([a, b])).not.toBe(bundleDigest([a, bundleFileFromContent(b.relPath, "c", 0o644)]));
    expect(bundleDigest([a, b])).not.toBe(bundleDigest([a, { ...b, mode: 0o600 }]));
    expect(bundleDigest([a, b])).not.toBe(bundleDigest([a]));
  });

  test("a destination is its user, address, dir and host key: a replaced host at the same address is another", () => {
    const t = { host: "h", port: 22, user: "u", hostKey: "ssh-ed25519 AAAA1" };
    expect(destinationKey(t, "/opt/odapi/")).toBe(destinationKey(t, "/opt/odapi"));
    // A pinned --host-key with a comment is the same key the session verified (which has none).
    expect(destinationKey({ ...t, hostKey: " ssh-ed25519  AAAA1 root@box" }, "/opt/odapi")).toBe(
      destinationKey(t, "/opt/odapi"),
    );
    expect(destinationKey(t, "/opt/odapi")).not.toBe(
      destinationKey({ ...t, hostKey: "ssh-ed25519 AAAA2" }, "/opt/odapi"),
    );
    expect(destinationKey(t, "/opt/odapi")).not.toBe(destinationKey({ ...t, port: 2222 }, "/opt/odapi"));
    expect(destinationKey(t, "/opt/odapi")).not.toBe(destinationKey(t, "/opt/other"));
  });

  test("the record keeps the latest bundle per destination; a missing or broken file knows nothing", async () => {
    const file = path.join(workDir(), "last-sync.json");
    expect(sameAsLastSync("k", "d1", file)).toBe(false);
    await recordLastSync("k", "d1", file);
    await recordLastSync("other", "d9", file);
    expect(sameAsLastSync("k", "d1", file)).toBe(true);
    await recordLastSync("k", "d2", file);
    expect(sameAsLastSync("k", "d1", file)).toBe(false);
    expect(sameAsLastSync("k", "d2", file)).toBe(true);
    writeFileSync(file, "{not json");
    expect(sameAsLastSync("k", "d2", file)).toBe(false);
  });
});

test("with a pinned host key the OpenSSH client logs in while the SSH session is still connecting", async () => {
  const sftp = countingSftp(workDir());
  const never = new Promise<SshSession>(() => undefined); // the ssh2 connection never comes up here
  const early = await earlyStart(never, sshd.target(), sftp.binary);
  expect(early.openssh).toBeDefined();
  await expect(early.openssh?.ready).resolves.toBeUndefined();
  expect(sftp.starts()).toBe(1);

  // Without a pinned key the client waits for the session's verified one.
  const unpinned = await earlyStart(never, { ...sshd.target(), hostKey: undefined }, sftp.binary);
  expect(unpinned.openssh).toBeUndefined();
  expect(sftp.starts()).toBe(1);
});

test("a client that logged in too early (the host still refused) gets a second start once the SSH connect got through", async () => {
  const sftp = countingSftp(workDir());
  const late = await startSshd({ delayMs: 1500 }); // like a fresh instance: refused for a while
  open.push({ close: () => late.stop() });
  const connecting = connect(late.target(), { readyTimeoutMs: 10_000, deadlineMs: 20_000 });
  const early = await earlyStart(connecting, late.target(), sftp.binary);
  const first = early.openssh;
  await expect(first?.ready).rejects.toThrow();
  open.push(await connecting);
  await expect(early.openssh?.ready).resolves.toBeUndefined();
  expect(early.openssh).not.toBe(first);
  expect(sftp.starts()).toBe(2);
});

test("a rerun of the bundle sent last starts no OpenSSH client; after the remote dir is emptied the guess is wrong and all is sent", async () => {
  const sftp = countingSftp(workDir());
  const lastSyncFile = path.join(workDir(), "cache", "last-sync.json");
  const models = path.join(workDir(), "models");
  const remote = path.join(workDir(), "remote");
  writeModels(models, {
    ssd: { "1": { "variables/variables.data-00000-of-00001": 3_000_000, "variables/variables.index": 900 } },
  });
  const files = await scanLocalModels(models, { cacheFile: false });
  const sync = async () =>
    syncBundle(await session(), {
      files,
      remoteDir: remote,
      transport: "openssh",
      sftpBinary: sftp.binary,
      lastSyncFile,
    });

  const first = await sync();
  expect(first.opensshFiles).toBe(files.length);
  expect(sftp.starts()).toBe(1);

  const logs: string[] = [];
  const again = await syncBundle(await session(), {
    files,
    remoteDir: remote,
    transport: "openssh",
    sftpBinary: sftp.binary,
    lastSyncFile,
    log: (l) => logs.push(l),
  });
  expect(again).toMatchObject({ uploadedFiles: 0, uploadedBytes: 0, skippedFiles: files.length });
  expect(sftp.starts()).toBe(1);
  expect(logs.join("\n")).toMatch(/this bundle was sent here last time/);

  rmSync(remote, { recursive: true, force: true });
  const refill = await sync();
  expect(refill.uploadedFiles).toBe(files.length);
  expect(refill.opensshFiles).toBe(files.length);
  expect(sftp.starts()).toBe(2);
  expect(treeHashes(remote)).toEqual(expectedHashes(models));
});
