// Connecting to a real OpenSSH server: host keys, trust on first use, retries, silent and dead peers, auth.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadPrivateKey, readPrivateKeyFile } from "../../bootstrap/ssh/keys";
import { connect } from "../../bootstrap/ssh/session";
import { ExitCode } from "../../common/errors";
import { freePort, type Sshd, startSshd } from "../../scripts/harness/sshd";
import { startTcpProxy } from "../../scripts/harness/tcp-proxy";
import { makeTempDir, removeDir } from "../helpers/tmp";

let tmp: string;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(() => {
  tmp = makeTempDir("odapi-connect-");
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  removeDir(tmp);
});

async function sshd(opts: Parameters<typeof startSshd>[0] = {}): Promise<Sshd> {
  const s = await startSshd(opts);
  cleanups.push(() => s.stop());
  return s;
}

/** The SHA256 fingerprint OpenSSH itself prints for a public key line. */
function opensshFingerprint(pubLine: string): string {
  const file = path.join(tmp, `fp-${Math.random()}.pub`);
  writeFileSync(file, `${pubLine}\n`);
  return execFileSync("ssh-keygen", ["-lf", file], { encoding: "utf8" }).split(" ")[1] as string;
}

test("a pinned host key that does not match aborts before authentication, with both fingerprints", async () => {
  const server = await sshd({ logLevel: "VERBOSE" });
  const impostor = await sshd(); // only to get a different, real ed25519 key
  const marker = path.join(tmp, "must-not-exist");
  const err = await connect(server.target({ hostKey: impostor.hostKey }), {
    readyTimeoutMs: 5000,
    deadlineMs: 5000,
  })
    .then(async (s) => {
      await s.exec(["touch", marker]);
      return undefined;
    })
    .catch((e) => e);
  expect(err).toMatchObject({ exitCode: ExitCode.hostKey });
  expect(err.message).toContain(opensshFingerprint(server.hostKey));
  expect(err.message).toContain(opensshFingerprint(impostor.hostKey));
  expect(existsSync(marker)).toBe(false);
  // sshd saw the connection end before any authentication attempt.
  await new Promise((r) => setTimeout(r, 200));
  expect(server.log()).not.toMatch(/Accepted publickey|Failed publickey|Postponed publickey/);
  // The same log does show authentication when the right key is pinned (so the check above can fail).
  const ok = await connect(server.target(), { readyTimeoutMs: 5000 });
  await ok.close();
  await new Promise((r) => setTimeout(r, 200));
  expect(server.log()).toMatch(/Accepted publickey/);
});

test("trust on first use records the key (0600, OpenSSH format), then detects a changed key", async () => {
  const first = await sshd();
  const knownHostsFile = path.join(tmp, ".odapi", "known_hosts");
  const logs: string[] = [];
  const target = first.target({ hostKey: undefined, knownHostsFile });

  const s1 = await connect(target, { log: (m) => logs.push(m) });
  await s1.close();
  expect(readFileSync(knownHostsFile, "utf8")).toBe(`[127.0.0.1]:${first.port} ${first.hostKey}\n`);
  expect(statSync(knownHostsFile).mode & 0o777).toBe(0o600);
  expect(logs.join("\n")).toMatch(
    /warning: first connection to \[127\.0\.0\.1\]:\d+: trusting its ssh-ed25519 key SHA256:/,
  );
  // OpenSSH accepts the file we wrote.
  const ok = execFileSync(
    "ssh",
    [
      "-o",
      `UserKnownHostsFile=${knownHostsFile}`,
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "BatchMode=yes",
      "-i",
      first.userKeyPath,
      "-p",
      String(first.port),
      `${first.user}@127.0.0.1`,
      "echo",
      "ok",
    ],
    { encoding: "utf8" },
  );
  expect(ok.trim()).toBe("ok");

  logs.length = 0;
  const s2 = await connect(target, { log: (m) => logs.push(m) });
  await s2.close();
  expect(logs).toEqual([]);

  // The server is rebuilt with a new host key on the same address.
  const port = first.port;
  await first.stop();
  const second = await sshd({ port });
  const err = await connect(second.target({ hostKey: undefined, knownHostsFile })).catch((e) => e);
  expect(err).toMatchObject({ exitCode: ExitCode.hostKey });
  expect(err.message).toContain(opensshFingerprint(second.hostKey));
  expect(err.remedy).toContain(knownHostsFile);
  expect(readFileSync(knownHostsFile, "utf8").split("\n").filter(Boolean)).toHaveLength(1);
});

test("an sshd that starts 5 s late is reached by retrying until the deadline", async () => {
  const late = await sshd({ delayMs: 5000 });
  const logs: string[] = [];
  const t0 = Date.now();
  const s = await connect(late.target(), {
    readyTimeoutMs: 3000,
    deadlineMs: 30_000,
    log: (m) => logs.push(m),
  });
  const elapsed = Date.now() - t0;
  try {
    expect((await s.run(["echo", "up"])).stdout).toBe("up\n");
  } finally {
    await s.close();
  }
  expect(elapsed).toBeGreaterThanOrEqual(4500);
  expect(elapsed).toBeLessThan(15_000);
  expect(logs.some((l) => /refused the connection.*retrying in/.test(l))).toBe(true);
});

test("a server that never sends a banner fails within the ready timeout", async () => {
  const proxy = await startTcpProxy({ port: 9 }, { kind: "silent" });
  cleanups.push(() => proxy.close());
  const server = await sshd();
  const t0 = Date.now();
  const err = await connect(server.target({ port: proxy.port }), { readyTimeoutMs: 1500 }).catch((e) => e);
  const elapsed = Date.now() - t0;
  expect(err).toMatchObject({ exitCode: ExitCode.timeout });
  expect(err.message).toMatch(/no SSH handshake from 127\.0\.0\.1:\d+ within 2 s/);
  expect(elapsed).toBeGreaterThanOrEqual(1400);
  expect(elapsed).toBeLessThan(3000);
});

test("a connection whose network path dies is detected by keepalive instead of hanging", async () => {
  const server = await sshd();
  const proxy = await startTcpProxy({ port: server.port }, { kind: "pass" });
  cleanups.push(() => proxy.close());
  const s = await connect(server.target({ port: proxy.port }), {
    keepaliveIntervalMs: 300,
    keepaliveCountMax: 2,
  });
  cleanups.push(() => s.close());
  proxy.setMode({ kind: "blackhole" });
  const t0 = Date.now();
  const err = await s.exec(["sleep", "60"]).catch((e) => e);
  expect(err).toMatchObject({ exitCode: ExitCode.unreachable });
  expect(err.message).toMatch(/connection to .* was lost/);
  expect(Date.now() - t0).toBeLessThan(5000);
});

test("a key the server does not accept fails at once with an auth error, not retried", async () => {
  const server = await sshd();
  const t0 = Date.now();
  const err = await connect(server.target({ privateKey: readFileSync(server.otherKeyPath) }), {
    deadlineMs: 20_000,
  }).catch((e) => e);
  expect(err).toMatchObject({ exitCode: ExitCode.auth });
  expect(err.message).toBe(
    `${server.user}@127.0.0.1:${server.port} refused the SSH key (publickey authentication failed)`,
  );
  expect(Date.now() - t0).toBeLessThan(3000);
});

test("nothing listening: unreachable error after the deadline", async () => {
  const port = await freePort();
  const server = await sshd();
  const err = await connect(server.target({ port }), { deadlineMs: 1200 }).catch((e) => e);
  expect(err).toMatchObject({ exitCode: ExitCode.unreachable });
  expect(err.message).toMatch(/refused the connection .*gave up after [2-9] attempts/);
});

test("a key file readable by others is refused like ssh does; 0600 and 0400 are accepted", async () => {
  const server = await sshd();
  const key = path.join(tmp, "id");
  writeFileSync(key, server.userKey);
  chmodSync(key, 0o644);
  expect(() => readPrivateKeyFile(key)).toThrow(/readable by other users \(permissions 0644 are too open\)/);
  try {
    readPrivateKeyFile(key);
  } catch (e) {
    expect(e).toMatchObject({ exitCode: ExitCode.config, remedy: `run: chmod 600 ${key}` });
  }
  chmodSync(key, 0o640);
  expect(() => readPrivateKeyFile(key)).toThrow(/0640/);
  chmodSync(key, 0o600);
  expect(readPrivateKeyFile(key).toString()).toBe(server.userKey);
  chmodSync(key, 0o400);
  const s = await connect(server.target({ privateKey: readPrivateKeyFile(key) }));
  await s.close();
});

test("the key can come from ODAPI_SSH_KEY; a missing key or a public key is a clear error", async () => {
  const server = await sshd();
  const s = await connect(
    server.target({ privateKey: loadPrivateKey(undefined, { ODAPI_SSH_KEY: server.userKey }) }),
  );
  await s.close();
  expect(() => loadPrivateKey(undefined, {})).toThrow(/no SSH private key given/);
  const pub = readFileSync(`${server.userKeyPath}.pub`);
  await expect(connect(server.target({ privateKey: pub }))).rejects.toMatchObject({
    exitCode: ExitCode.config,
  });
});
