// The deploy lock against a real sshd: a second holder is refused by name; the lock dies with its connection.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  acquireRemoteLock,
  holderDescription,
  lockArgv,
  lockPaths,
  parseAcquired,
} from "../../bootstrap/deploy/lock";
import { connect, type SshSession } from "../../bootstrap/ssh/session";
import { ExitCode } from "../../common/errors";
import { type Sshd, startSshd } from "../../scripts/harness/sshd";
import { startTcpProxy, type TcpProxy } from "../../scripts/harness/tcp-proxy";
import { makeTempDir, removeDir } from "../helpers/tmp";

let sshd: Sshd;
let remoteDir: string;
const open: SshSession[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd.stop();
});
beforeEach(() => {
  remoteDir = path.join(makeTempDir("odapi-lock-"), "srv odapi");
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const p of proxies.splice(0)) await p.close();
  removeDir(path.dirname(remoteDir));
});

async function session(port = sshd.port): Promise<SshSession> {
  const s = await connect(sshd.target({ port }));
  open.push(s);
  return s;
}

async function eventually(check: () => Promise<boolean>, ms: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await check()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not met within ${ms} ms`);
}

test("holder text and argv are exact", () => {
  expect(
    holderDescription({ user: "ana", hostname: "lap", pid: 42, since: new Date("2026-01-02T03:04:05Z") }),
  ).toBe("ana@lap pid 42 since 2026-01-02T03:04:05.000Z");
  expect(lockPaths("/srv/odapi/")).toEqual({
    dir: "/srv/odapi/.odapi",
    lockFile: "/srv/odapi/.odapi/deploy.lock",
    ownerFile: "/srv/odapi/.odapi/deploy.lock.owner",
  });
  const argv = lockArgv("/srv/odapi", "me", 30, 5);
  expect(argv.slice(0, 2)).toEqual(["bash", "-c"]);
  expect(argv.slice(3)).toEqual([
    "odapi-lock",
    "/srv/odapi/.odapi",
    "/srv/odapi/.odapi/deploy.lock",
    "/srv/odapi/.odapi/deploy.lock.owner",
    "me",
    "30",
    "5",
  ]);
});

test("the acquired marker splits off what the command under the lock printed, and its exit code", () => {
  expect(parseAcquired("a\nb\n\nodapi-lock-acquired 0\n")).toEqual({ code: 0, stdout: "a\nb\n" });
  expect(parseAcquired("no newline\nodapi-lock-acquired 3\n")).toEqual({ code: 3, stdout: "no newline" });
  expect(parseAcquired("odapi-lock-acquired 0\n")).toBeUndefined(); // not yet a whole marker line after the echo
  expect(parseAcquired("\nodapi-lock-acquired 0")).toBeUndefined(); // the line is not complete yet
  expect(lockArgv("/srv/odapi", "me", 30, 5, ["bash", "-c", "x"]).slice(-3)).toEqual(["bash", "-c", "x"]);
});

test("a command under the lock runs once the lock is held, before acquire resolves; its output and code come back", async () => {
  const a = await session();
  const lock = await acquireRemoteLock(a, remoteDir, {
    underLock: ["sh", "-c", 'cat "$1"; printf "two words\\n"; exit 4', "sh", lockPaths(remoteDir).ownerFile],
  });
  expect(lock.underLock?.code).toBe(4);
  // The owner file is written before the command runs: the command sees the lock held by us.
  expect(lock.underLock?.stdout).toBe(`${lock.holder}\ntwo words\n`);
  await lock.release();
  const plain = await acquireRemoteLock(a, remoteDir);
  expect(plain.underLock).toBeUndefined();
  await plain.release();
});

test("a second lock on the same dir fails after a short grace naming the holder; after release it is free", async () => {
  const a = await session();
  const b = await session();
  const lock = await acquireRemoteLock(a, remoteDir, {
    holder: "ana@laptop pid 4242 since 2026-11-24T08:00:00.000Z",
  });
  expect(readFileSync(lockPaths(remoteDir).ownerFile, "utf8")).toBe(`${lock.holder}\n`);

  // Waits its grace period (here 1 s) for a holder that may be dying, then fails naming it.
  const t0 = Date.now();
  const err = await acquireRemoteLock(b, remoteDir, { waitSeconds: 1 }).catch((e) => e);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  expect(Date.now() - t0).toBeLessThan(4000);
  expect(err).toMatchObject({ exitCode: ExitCode.locked });
  expect(err.message).toBe(
    `another deploy to 127.0.0.1:${remoteDir} is running (held by ana@laptop pid 4242 since 2026-11-24T08:00:00.000Z)`,
  );

  // A different remote dir on the same host is independent.
  const other = await acquireRemoteLock(b, `${remoteDir}-2`);
  await other.release();

  await lock.release();
  expect(existsSync(lockPaths(remoteDir).ownerFile)).toBe(false);
  const again = await acquireRemoteLock(b, remoteDir);
  await again.release();
});

test("the lock is released when the holder's connection is dropped (crash, Ctrl-C): an immediate rerun gets it", async () => {
  const a = await session();
  const b = await session();
  await acquireRemoteLock(a, remoteDir);
  a.client.destroy(); // the TCP connection ends without any goodbye
  // No pause: the default grace lets a holder that is dying at this very moment go.
  const t0 = Date.now();
  const lock = await acquireRemoteLock(b, remoteDir);
  expect(Date.now() - t0).toBeLessThan(5000);
  await lock.release();
});

test("the lock is released when the holder's network path dies silently (heartbeat stops)", async () => {
  const proxy = await startTcpProxy({ port: sshd.port }, { kind: "pass" });
  proxies.push(proxy);
  const a = await session(proxy.port);
  const b = await session();
  await acquireRemoteLock(a, remoteDir, { idleSeconds: 2, heartbeatMs: 300 });
  // Heartbeats keep it held past the idle limit while the path works.
  await new Promise((r) => setTimeout(r, 2500));
  await expect(acquireRemoteLock(b, remoteDir, { waitSeconds: 0 })).rejects.toMatchObject({
    exitCode: ExitCode.locked,
  });
  proxy.setMode({ kind: "blackhole" });
  const waited = await eventually(
    () =>
      acquireRemoteLock(b, remoteDir, { waitSeconds: 0 }).then(
        async (l) => {
          await l.release();
          return true;
        },
        () => false,
      ),
    8000,
  );
  expect(waited).toBeGreaterThan(1000);
});

test("a remote dir the user cannot create is a clear error, not a lock error", async () => {
  const a = await session();
  // A path below a regular file cannot be created, even by root.
  const file = path.join(path.dirname(remoteDir), "file");
  require("node:fs").writeFileSync(file, "x");
  const err = await acquireRemoteLock(a, path.join(file, "sub")).catch((e) => e);
  expect(err.exitCode).not.toBe(ExitCode.locked);
  expect(err.message).toMatch(/flock .*failed on 127\.0\.0\.1 \(exit 1\): mkdir: cannot create directory/);
});
