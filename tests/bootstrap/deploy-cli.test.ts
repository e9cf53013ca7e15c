// End to end through the real `odapi` CLI (bin/odapi.cjs) against a real sshd: deploy --no-start --json,
// rerun, host-key mismatch, concurrent deploy, refused auth, unsafe key file, status/stop without a Docker engine.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { acquireRemoteLock } from "../../bootstrap/deploy/lock";
import { DEPLOY_RECORD } from "../../bootstrap/deploy/plan";
import { connect } from "../../bootstrap/ssh/session";
import { ensureGeneratedTls } from "../../bootstrap/tls/identity";
import { ExitCode } from "../../common/errors";
import { type Sshd, startSshd } from "../../scripts/harness/sshd";
import { runOdapi } from "../helpers/run";
import { type SshdCliFixture, startSshdCliFixture } from "../helpers/sshd-cli";
import { hashTree as tree, writeModelVersion } from "../helpers/tmp";
import { hasCommand } from "../helpers/tools";

let fx: SshdCliFixture;
let sshd: Sshd;
let tmp: string;
let modelsDir: string;

function odapi(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runOdapi(args, { cwd: tmp, env: { ODAPI_SSH_KEY: "", ODAPI_API_KEY: "", ...env } });
}

function conn(remoteDir: string): string[] {
  return fx.conn(remoteDir);
}

function writeModel(name: string, version: number, bytes: number): void {
  writeModelVersion(modelsDir, name, version, {
    pb: randomBytes(4096),
    index: randomBytes(512),
    data: randomBytes(bytes),
  });
}

beforeAll(async () => {
  fx = await startSshdCliFixture({ tmpPrefix: "odapi-deploy-cli-", keyName: "id_ed25519" });
  ({ sshd, tmp, modelsDir } = fx);
  writeModel("ssd_mobilenet_v2", 1, 3 * 1024 * 1024);
  writeModel("efficientdet_d0", 1, 1024 * 1024);
});

afterAll(() => fx.stop());

test("deploy --no-start --json uploads the models and serving files, and a rerun sends nothing", async () => {
  const remoteDir = path.join(tmp, "remote one");
  const first = await odapi(["deploy", ...conn(remoteDir), "--models", modelsDir, "--no-start", "--json"]);
  expect(first.stderr).not.toMatch(/^error/m);
  expect(first.code).toBe(0);
  const lines = first.stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  const result = JSON.parse(lines[0] as string);
  expect(Object.keys(result).sort()).toEqual([
    "models",
    "seconds",
    "skippedFiles",
    "uploadedBytes",
    "uploadedFiles",
  ]);
  expect(result.models).toEqual(["efficientdet_d0", "ssd_mobilenet_v2"]);
  expect(result.uploadedFiles).toBeGreaterThanOrEqual(6 + 5);
  expect(result.uploadedBytes).toBeGreaterThan(4 * 1024 * 1024);

  // Model files arrived byte for byte where TF Serving looks for them.
  const local = tree(modelsDir);
  const remote = tree(path.join(remoteDir, "models"));
  expect(remote).toEqual(local);
  // The rendered serving files and the deploy record are there, scripts executable.
  expect(readFileSync(path.join(remoteDir, "config", "models.config"), "utf8")).toContain(
    'name: "ssd_mobilenet_v2"',
  );
  expect(statSync(path.join(remoteDir, "start.sh")).mode & 0o111).not.toBe(0);
  expect(JSON.parse(readFileSync(path.join(remoteDir, DEPLOY_RECORD), "utf8"))).toMatchObject({
    models: ["efficientdet_d0", "ssd_mobilenet_v2"],
    publicPort: 8501,
    gateway: false,
  });
  // --no-start: nothing ran on the host (no lock holder left behind either).
  expect(existsSync(path.join(remoteDir, ".odapi", "deploy.lock.owner"))).toBe(false);

  const again = await odapi(["deploy", ...conn(remoteDir), "--models", modelsDir, "--no-start", "--json"]);
  expect(again.code).toBe(0);
  const rerun = JSON.parse(again.stdout);
  expect(rerun).toMatchObject({ uploadedFiles: 0, uploadedBytes: 0 });
  expect(rerun.skippedFiles).toBe(result.uploadedFiles);
});

test("human output: progress and a summary line, no JSON", async () => {
  const remoteDir = path.join(tmp, "remote-human");
  const run = await odapi(["deploy", ...conn(remoteDir), "--models", modelsDir, "--no-start"]);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(
    /^deployed efficientdet_d0, ssd_mobilenet_v2 to 127\.0\.0\.1:.* in [\d.]+ s \(\d+ files uploaded, 0 unchanged\)\n$/,
  );
  expect(run.stderr).toMatch(/connecting to /);
  expect(run.stderr).toMatch(/upload +\d+% /);
});

test("a host key mismatch aborts with exit 5 and writes nothing on the host", async () => {
  const remoteDir = path.join(tmp, "remote-mismatch");
  const other = await startSshd();
  try {
    const args = conn(remoteDir);
    args[args.indexOf("--host-key") + 1] = other.hostKey;
    const run = await odapi(["deploy", ...args, "--models", modelsDir, "--no-start", "--json"]);
    expect(run.code).toBe(ExitCode.hostKey);
    // --json: the failure as one JSON object on stdout, the same message once on stderr.
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, error: { exitCode: ExitCode.hostKey } });
    expect(run.stderr).toMatch(
      /^error: host key mismatch for \[127\.0\.0\.1\]:\d+: the server presented ssh-ed25519 SHA256:\S+ but --host-key expects ssh-ed25519 SHA256:\S+; nothing was sent$/m,
    );
    expect(existsSync(remoteDir)).toBe(false);
  } finally {
    await other.stop();
  }
});

test("without --host-key the first key is recorded per user ($XDG_CONFIG_HOME/odapi/known_hosts) with a warning", async () => {
  const remoteDir = path.join(tmp, "remote-tofu");
  const args = conn(remoteDir);
  args.splice(args.indexOf("--host-key"), 2);
  const xdg = path.join(tmp, "xdg-tofu");
  const known = path.join(xdg, "odapi", "known_hosts");
  const run = await odapi(["deploy", ...args, "--models", modelsDir, "--no-start", "--json"], {
    XDG_CONFIG_HOME: xdg,
  });
  expect(run.code).toBe(0);
  expect(run.stderr).toMatch(
    /warning: first connection to \[127\.0\.0\.1\]:\d+: trusting its ssh-ed25519 key/,
  );
  expect(run.stderr).toContain(`recording it in ${known}`);
  expect(readFileSync(known, "utf8")).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostKey}\n`);
  expect(statSync(known).mode & 0o777).toBe(0o600);
  expect(existsSync(path.join(tmp, ".odapi", "known_hosts"))).toBe(false);

  // Another directory, same user: the recorded key decides there too, so a different key is refused.
  const elsewhere = path.join(tmp, "elsewhere");
  mkdirSync(elsewhere, { recursive: true });
  const other = await startSshd(); // a different host key
  try {
    writeFileSync(known, `[127.0.0.1]:${other.port} ${sshd.hostKey}\n`, { flag: "a" });
    const otherArgs = fx.conn(remoteDir, { port: other.port });
    otherArgs.splice(otherArgs.indexOf("--host-key"), 2);
    const refused = await runOdapi(["deploy", ...otherArgs, "--models", modelsDir, "--no-start"], {
      cwd: elsewhere,
      env: { ODAPI_SSH_KEY: "", ODAPI_API_KEY: "", XDG_CONFIG_HOME: xdg },
    });
    expect(refused.code).toBe(ExitCode.hostKey);
    expect(refused.stderr).toContain(`host key mismatch for [127.0.0.1]:${other.port}`);
    expect(refused.stderr).toContain(`but ${known} expects`);
  } finally {
    await other.stop();
  }
});

test("keys in an existing .odapi/known_hosts are still honoured: a match is moved to the user store, a change refused", async () => {
  const project = path.join(tmp, "legacy-project");
  const legacy = path.join(project, ".odapi", "known_hosts");
  mkdirSync(path.dirname(legacy), { recursive: true });
  const xdg = path.join(tmp, "xdg-legacy");
  const known = path.join(xdg, "odapi", "known_hosts");
  const args = conn(path.join(tmp, "remote-legacy"));
  args.splice(args.indexOf("--host-key"), 2);
  const run = (env: NodeJS.ProcessEnv) =>
    runOdapi(["deploy", ...args, "--models", modelsDir, "--no-start", "--json"], {
      cwd: project,
      env: { ODAPI_SSH_KEY: "", ODAPI_API_KEY: "", XDG_CONFIG_HOME: xdg, ...env },
    });

  const other = await startSshd();
  try {
    writeFileSync(legacy, `[127.0.0.1]:${sshd.port} ${other.hostKey}\n`);
    const refused = await run({});
    expect(refused.code).toBe(ExitCode.hostKey);
    expect(refused.stderr).toContain(`but ${legacy} expects`);
    expect(existsSync(known)).toBe(false);
  } finally {
    await other.stop();
  }

  writeFileSync(legacy, `[127.0.0.1]:${sshd.port} ${sshd.hostKey}\n`);
  const ok = await run({});
  expect(ok.code).toBe(0);
  expect(ok.stderr).not.toMatch(/first connection/);
  expect(ok.stderr).toContain(`from ${legacy} in ${known}`);
  expect(readFileSync(known, "utf8")).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostKey}\n`);
});

test("--known-hosts FILE is the only store used when given", async () => {
  const file = path.join(tmp, "explicit", "hosts");
  const xdg = path.join(tmp, "xdg-explicit");
  const args = conn(path.join(tmp, "remote-explicit"));
  args.splice(args.indexOf("--host-key"), 2);
  const run = await odapi(
    ["deploy", ...args, "--known-hosts", file, "--models", modelsDir, "--no-start", "--json"],
    {
      XDG_CONFIG_HOME: xdg,
    },
  );
  expect(run.code).toBe(0);
  expect(readFileSync(file, "utf8")).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostKey}\n`);
  expect(existsSync(path.join(xdg, "odapi", "known_hosts"))).toBe(false);
});

test("a second deploy while one holds the lock fails fast with exit 6 naming the holder", async () => {
  const remoteDir = path.join(tmp, "remote-locked");
  const session = await connect(sshd.target());
  try {
    const lock = await acquireRemoteLock(session, remoteDir, {
      holder: "ana@laptop pid 777 since 2026-11-24T09:00:00.000Z",
    });
    const t0 = Date.now();
    const run = await odapi(["deploy", ...conn(remoteDir), "--models", modelsDir, "--no-start", "--json"]);
    expect(run.code).toBe(ExitCode.locked);
    expect(run.stderr).toContain(
      `error: another deploy to 127.0.0.1:${remoteDir} is running (held by ana@laptop pid 777 since 2026-11-24T09:00:00.000Z)`,
    );
    expect(Date.now() - t0).toBeLessThan(15_000);
    // Nothing was uploaded: the dirs deploy creates before taking the lock are still empty.
    expect(readdirSync(path.join(remoteDir, "models"))).toEqual([]);
    expect(readdirSync(path.join(remoteDir, "config"))).toEqual([]);
    await lock.release();
  } finally {
    await session.close();
  }
});

test("refused auth → exit 4; key file readable by others → exit 13 with the chmod fix; no key → usage", async () => {
  const remoteDir = path.join(tmp, "remote-auth");
  const wrongKey = path.join(tmp, "wrong_key");
  writeFileSync(wrongKey, readFileSync(sshd.otherKeyPath), { mode: 0o600 });
  const args = conn(remoteDir);
  args[args.indexOf("--key") + 1] = wrongKey;
  const refused = await odapi(["deploy", ...args, "--models", modelsDir, "--no-start"]);
  expect(refused.code).toBe(ExitCode.auth);
  expect(refused.stderr).toMatch(
    /refused the SSH key \(publickey authentication failed\)\n {2}fix: check --user/,
  );

  chmodSync(wrongKey, 0o644);
  const open = await odapi(["deploy", ...args, "--models", modelsDir, "--no-start"]);
  expect(open.code).toBe(ExitCode.config);
  expect(open.stderr).toContain(`fix: run: chmod 600 ${wrongKey}`);

  const noKey = conn(remoteDir);
  noKey.splice(noKey.indexOf("--key"), 2);
  const missing = await odapi(["deploy", ...noKey, "--models", modelsDir, "--no-start"]);
  expect(missing.code).toBe(ExitCode.usage);
  expect(missing.stderr).toMatch(/no SSH private key given/);
  const fromEnv = await odapi(["deploy", ...noKey, "--models", modelsDir, "--no-start", "--json"], {
    ODAPI_SSH_KEY: sshd.userKey,
  });
  expect(fromEnv.code).toBe(0);
});

test("bad local input fails before connecting: no models, missing dir, relative remote dir", async () => {
  const none = await odapi(["deploy", ...conn(path.join(tmp, "r1")), "--no-start"]);
  expect(none.code).toBe(ExitCode.usage);
  expect(none.stderr).toMatch(/nothing to deploy/);
  const badTransport = await odapi([
    "deploy",
    ...conn(path.join(tmp, "r1")),
    "--models",
    modelsDir,
    "--transport",
    "scp",
  ]);
  expect(badTransport.code).toBe(ExitCode.usage);
  expect(badTransport.stderr).toMatch(/transport.*scp/i);
  const rel = await odapi(["deploy", ...conn("relative/dir"), "--models", modelsDir, "--no-start"]);
  expect(rel.code).toBe(ExitCode.usage);
  expect(rel.stderr).toMatch(/--remote-dir "relative\/dir" must be an absolute path/);
  const missingDir = await odapi([
    "deploy",
    ...conn(path.join(tmp, "r2")),
    "--models",
    path.join(tmp, "nope"),
    "--no-start",
  ]);
  expect(missingDir.code).not.toBe(0);
  expect(existsSync(path.join(tmp, "r1"))).toBe(false);
  expect(existsSync(path.join(tmp, "r2"))).toBe(false);
});

/** Creates dir, mounts a tmpfs with these options on it for fn, and unmounts it afterwards. */
async function onTmpfs(dir: string, options: string, fn: () => Promise<void>): Promise<void> {
  mkdirSync(dir);
  execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir]);
  try {
    await fn();
  } finally {
    execFileSync("umount", ["-l", dir]);
  }
}

// A real full disk: a 2 MiB tmpfs as the remote dir (needs root to mount; the suite runs as root, see .ci/run).
const asRoot = process.getuid?.() === 0;
(asRoot ? test : test.skip)(
  "a full remote disk is one clear exit-7 error and no partial version is served",
  async () => {
    const remoteDir = path.join(tmp, "remote-small-disk");
    await onTmpfs(remoteDir, "size=2m", async () => {
      const run = await odapi(["deploy", ...conn(remoteDir), "--models", modelsDir, "--no-start", "--json"]);
      expect(run.code).toBe(ExitCode.remoteIo);
      expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, error: { exitCode: ExitCode.remoteIo } });
      expect(run.stderr).toMatch(/error: the disk on 127\.0\.0\.1 is full/);
      // Only complete, verified versions may have a numeric dir: the 3 MiB model cannot be one of them.
      const served = existsSync(path.join(remoteDir, "models", "ssd_mobilenet_v2"))
        ? readdirSync(path.join(remoteDir, "models", "ssd_mobilenet_v2")).filter((d) => /^\d+$/.test(d))
        : [];
      expect(served).toEqual([]);
    });
  },
);

(asRoot ? test : test.skip)(
  "a remote dir on a read-only filesystem is one clear exit-7 error naming the dir",
  async () => {
    const remoteDir = path.join(tmp, "remote-readonly");
    await onTmpfs(remoteDir, "ro,size=1m", async () => {
      const run = await odapi(["deploy", ...conn(remoteDir), "--models", modelsDir, "--no-start", "--json"]);
      expect(run.code).toBe(ExitCode.remoteIo);
      expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, error: { exitCode: ExitCode.remoteIo } });
      expect(run.stderr).toMatch(
        new RegExp(
          `^error: cannot create or write --remote-dir ${remoteDir} on 127\\.0\\.0\\.1 as ${sshd.user}: ${remoteDir} is not writable \\(owner or read-only filesystem\\)$`,
          "m",
        ),
      );
    });
  },
);

test("status and stop explain a host without a running Docker engine", async () => {
  const remoteDir = path.join(tmp, "remote one");
  const hasDockerCli = hasCommand("docker");
  const status = await odapi(["status", ...conn(remoteDir)]);
  expect(status.code).toBe(ExitCode.missingTool);
  expect(status.stderr).toMatch(
    hasDockerCli ? /the Docker engine is not running on 127\.0\.0\.1/ : /docker is not installed/,
  );

  // logs reads docker's failure the same way: the cause and 12, not "docker logs failed" and 1.
  const logs = await odapi(["logs", ...conn(remoteDir)]);
  expect(logs.code).toBe(ExitCode.missingTool);
  expect(logs.stderr.split("\n").filter((l) => l.startsWith("error:"))).toEqual([
    hasDockerCli
      ? "error: the Docker engine is not running on 127.0.0.1"
      : "error: docker is not installed on 127.0.0.1",
  ]);

  const stop = await odapi(["stop", ...conn(remoteDir), "--json"]);
  if (hasDockerCli) {
    // stop.sh's own `odapi-error:` line becomes the error message and remedy, printed once; a missing engine is 12.
    expect(stop.code).toBe(ExitCode.missingTool);
    expect(stop.stderr).toMatch(
      /error: the Docker engine is not running or this user may not use it\n {2}fix: start it/,
    );
    expect(stop.stderr.match(/the Docker engine is not running/g)).toHaveLength(1);
    expect(JSON.parse(stop.stdout)).toMatchObject({ ok: false, error: { exitCode: ExitCode.missingTool } });
  } else {
    expect(stop.code).toBe(0);
    expect(JSON.parse(stop.stdout)).toEqual({ stopped: true });
  }
});

test("--help lists every flag of the deploy contract", async () => {
  const help = await odapi(["deploy", "--help"]);
  expect(help.code).toBe(0);
  for (const flag of [
    "--host",
    "--port",
    "--user",
    "--key",
    "--host-key",
    "--models",
    "--catalog",
    "--remote-dir",
    "--version",
    "--gpu",
    "--no-start",
    "--json",
    "--transport",
  ]) {
    expect(help.stdout).toContain(flag);
  }
  expect(help.stdout).toMatch(/choices: "auto", "openssh", "ssh2"/);
  expect(help.stdout).toContain("ODAPI_API_KEY");
});

test("a version on the host newer than the deployed one: warned about, removed with --prune", async () => {
  const remoteDir = path.join(tmp, "remote-prune");
  const own = path.join(tmp, "models-prune");
  writeModelVersion(own, "ssd", 3, { pb: randomBytes(1024) });
  const deployOwn = (...extra: string[]) =>
    odapi(["deploy", ...conn(remoteDir), "--models", own, "--no-start", ...extra]);
  expect((await deployOwn()).code).toBe(0);

  rmSync(path.join(own, "ssd", "3"), { recursive: true });
  writeModelVersion(own, "ssd", 2, { pb: randomBytes(1024) });
  const warned = await deployOwn();
  expect(warned.code).toBe(0);
  expect(warned.stderr).toMatch(/warning: models\/ssd\/3 on the host is newer .* rerun with --prune/);
  expect(readdirSync(path.join(remoteDir, "models", "ssd")).sort()).toEqual(["2", "3"]);

  const pruned = await deployOwn("--prune");
  expect(pruned.code).toBe(0);
  expect(pruned.stderr).toContain("removed versions not in --models (--prune): models/ssd/3");
  expect(pruned.stderr).not.toMatch(/warning/);
  expect(readdirSync(path.join(remoteDir, "models", "ssd"))).toEqual(["2"]);
});

describe("HTTPS for the gateway: --tls-cert/--tls-key, or a private CA per user", () => {
  const key = "deploy-cli-api-key-0123456789abcdef";

  test("with ODAPI_API_KEY and no certificate, a private CA for --host is made once per user and its path printed", async () => {
    const remoteDir = path.join(tmp, "remote-tls-made");
    const xdg = path.join(tmp, "xdg-tls");
    const caFile = path.join(xdg, "odapi", "tls", "127.0.0.1", "ca.crt");
    const run = () =>
      odapi(["deploy", ...conn(remoteDir), "--models", modelsDir, "--no-start", "--json"], {
        ODAPI_API_KEY: key,
        XDG_CONFIG_HOME: xdg,
      });
    const first = await run();
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).caCertFile).toBe(caFile);
    expect(first.stderr).toContain(`(made now): clients verify it with --ca-cert ${caFile}`);
    expect(statSync(caFile).mode & 0o777).toBe(0o644);
    expect(statSync(path.join(path.dirname(caFile), "server.key")).mode & 0o777).toBe(0o600);
    // The host got the chain and the key (0600), and the gateway config serves them.
    const served = readFileSync(path.join(remoteDir, "config", "gateway-tls.crt"), "utf8");
    expect(served).toContain(readFileSync(caFile, "utf8"));
    expect(statSync(path.join(remoteDir, "config", "gateway-tls.key")).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(remoteDir, "config", "gateway.conf"), "utf8")).toContain(
      "listen 8080 ssl;",
    );
    expect(JSON.parse(readFileSync(path.join(remoteDir, DEPLOY_RECORD), "utf8")).tls).toBe(true);

    // A rerun reuses the same CA and certificate: clients keep their file, nothing is uploaded again for TLS.
    const again = await run();
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("(reused)");
    expect(readFileSync(path.join(remoteDir, "config", "gateway-tls.crt"), "utf8")).toBe(served);
  });

  test("own certificate: a bad file, a key of another certificate, or one flag alone is a named error before connecting", async () => {
    const remoteDir = path.join(tmp, "remote-tls-own");
    const own = path.join(tmp, "own-tls");
    const made = path.join(tmp, "xdg-own", "odapi", "tls");
    // Two real identities for 127.0.0.1 from the same generator deploy uses.
    const a = ensureGeneratedTls("127.0.0.1", path.join(own, "a"));
    ensureGeneratedTls("127.0.0.1", path.join(own, "b"));
    const certA = path.join(path.dirname(a.caFile), "server.crt");
    const keyB = path.join(own, "b", "server.key");
    const notPem = path.join(own, "not.pem");
    writeFileSync(notPem, "hello\n");
    const deployWith = (flags: string[], env: NodeJS.ProcessEnv = { ODAPI_API_KEY: key }) =>
      odapi(["deploy", ...conn(remoteDir), "--models", modelsDir, "--no-start", "--json", ...flags], {
        XDG_CONFIG_HOME: path.join(tmp, "xdg-own"),
        ...env,
      });
    const cases: [string, string[], NodeJS.ProcessEnv | undefined, number, RegExp][] = [
      [
        "not PEM",
        ["--tls-cert", notPem, "--tls-key", keyB],
        undefined,
        ExitCode.config,
        /--tls-cert .*not\.pem.*holds no PEM certificate/,
      ],
      [
        "missing file",
        ["--tls-cert", path.join(own, "nope.crt"), "--tls-key", keyB],
        undefined,
        ExitCode.config,
        /cannot read --tls-cert .*nope\.crt: ENOENT/,
      ],
      [
        "wrong key",
        ["--tls-cert", certA, "--tls-key", keyB],
        undefined,
        ExitCode.config,
        /private key does not belong to the certificate/,
      ],
      [
        "cert alone",
        ["--tls-cert", certA],
        undefined,
        ExitCode.usage,
        /--tls-cert was given without --tls-key/,
      ],
      [
        "no API key",
        ["--tls-cert", certA, "--tls-key", path.join(own, "a", "server.key")],
        { ODAPI_API_KEY: "" },
        ExitCode.usage,
        /without an API key/,
      ],
    ];
    for (const [what, flags, env, code, message] of cases) {
      const run = await deployWith(flags, env);
      expect([what, run.code]).toEqual([what, code]);
      const failure = JSON.parse(run.stdout);
      expect([what, failure.ok]).toEqual([what, false]);
      expect(failure.error.message).toMatch(message);
    }
    expect(existsSync(remoteDir)).toBe(false);
    expect(existsSync(made)).toBe(false);

    // The good pair deploys, and no private CA is made.
    const ok = await deployWith(["--tls-cert", certA, "--tls-key", path.join(own, "a", "server.key")]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).caCertFile).toBeUndefined();
    expect(readFileSync(path.join(remoteDir, "config", "gateway-tls.crt"), "utf8")).toBe(
      readFileSync(certA, "utf8"),
    );
    expect(existsSync(made)).toBe(false);
  });
});
