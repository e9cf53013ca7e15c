// `odapi deploy` when things go wrong mid-way, through the real CLI and a real sshd: the connection cut at
// ~50 % of the upload, and Ctrl-C. Each must end with a clear error, leave no partial version where TF Serving
// would load it, hold no lock afterwards, and let an immediate rerun finish with the exact tree.
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { ExitCode } from "../../common/errors";
import type { Sshd } from "../../scripts/harness/sshd";
import { startTcpProxy, type TcpProxy } from "../../scripts/harness/tcp-proxy";
import { type OnOutput, runOdapi } from "../helpers/run";
import { type SshdCliFixture, startSshdCliFixture } from "../helpers/sshd-cli";
import { hashTree as tree, writeModelVersion } from "../helpers/tmp";

const BIG = 24 * 1024 * 1024;

let fx: SshdCliFixture;
let sshd: Sshd;
let tmp: string;
let modelsDir: string;
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  fx = await startSshdCliFixture({ tmpPrefix: "odapi-deploy-faults-" });
  ({ sshd, tmp, modelsDir } = fx);
  writeModelVersion(modelsDir, "big_model", 1, {
    pb: randomBytes(64 * 1024),
    index: randomBytes(1024),
    data: randomBytes(BIG),
  });
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  await fx.stop();
});

function deployArgs(port: number, remoteDir: string): string[] {
  return [
    "deploy",
    ...fx.conn(remoteDir, { port }),
    "--models",
    modelsDir,
    "--no-start",
    "--json",
    "--connect-timeout",
    "0",
  ];
}

function odapi(args: string[], onStderr?: OnOutput) {
  return runOdapi(args, { cwd: tmp, onStderr });
}

/** Numeric version dirs TF Serving would load, and whether each is complete (identical to the local version). */
function servedVersions(remoteDir: string): Record<string, boolean> {
  const base = path.join(remoteDir, "models", "big_model");
  const out: Record<string, boolean> = {};
  if (!existsSync(base)) return out;
  for (const v of readdirSync(base).filter((d) => /^\d+$/.test(d))) {
    out[v] =
      JSON.stringify(tree(path.join(base, v))) === JSON.stringify(tree(path.join(modelsDir, "big_model", v)));
  }
  return out;
}

test("a connection cut at ~50 % fails clearly (exit 3), serves nothing partial, and a rerun completes", async () => {
  const remoteDir = path.join(tmp, "remote-cut");
  const proxy = await startTcpProxy({ port: sshd.port }, { kind: "cut", bytes: BIG / 2 });
  proxies.push(proxy);
  // The OpenSSH path pinned: on a loaded machine loopback can measure above auto's round-trip bound (ssh2 then).
  const cut = await odapi([...deployArgs(proxy.port, remoteDir), "--verbose", "--transport", "openssh"]);
  expect(proxy.stats().cut).toBe(true);
  expect(cut.code).toBe(ExitCode.unreachable);
  // --json: the failure as one JSON object on stdout.
  expect(JSON.parse(cut.stdout)).toMatchObject({ ok: false, error: { exitCode: ExitCode.unreachable } });
  expect(cut.stderr).toMatch(/^error: .*connection .*lost/m);
  // The big file went to the OpenSSH sftp client, and its cut was caught.
  expect(cut.stderr).toMatch(/sending \d+ bytes: [1-9]\d* file\(s\), \d+ bytes with the OpenSSH sftp client/);
  expect(Object.values(servedVersions(remoteDir)).every(Boolean)).toBe(true);
  expect(servedVersions(remoteDir)).not.toHaveProperty("1");

  // At once: the dead connection took its lock with it.
  const rerun = await odapi(deployArgs(sshd.port, remoteDir));
  expect(rerun.stderr).not.toMatch(/^error/m);
  expect(rerun.code).toBe(0);
  expect(tree(path.join(remoteDir, "models"))).toEqual(tree(modelsDir));
  expect(servedVersions(remoteDir)).toEqual({ "1": true });
});

test("Ctrl-C during the upload stops with a clear message, no partial version, and a rerun completes", async () => {
  const remoteDir = path.join(tmp, "remote-sigint");
  // A slow link (4 MB/s) so the upload is still running when we interrupt it.
  const proxy = await startTcpProxy({ port: sshd.port }, { kind: "pass", bytesPerSecond: 4 * 1024 * 1024 });
  proxies.push(proxy);
  let sent = false;
  const run = await odapi(deployArgs(proxy.port, remoteDir), (stderr, kill) => {
    if (!sent && /uploading to /.test(stderr)) {
      sent = true;
      setTimeout(() => kill("SIGINT"), 1500);
    }
  });
  expect(sent).toBe(true);
  expect(run.code).toBe(ExitCode.interrupted);
  expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, error: { exitCode: ExitCode.interrupted } });
  expect(run.stderr).toContain("interrupted: stopping after the current step");
  expect(run.stderr).toMatch(/^error: upload cancelled/m);
  expect(servedVersions(remoteDir)).not.toHaveProperty("1");

  const rerun = await odapi(deployArgs(sshd.port, remoteDir));
  expect(rerun.code).toBe(0);
  expect(tree(path.join(remoteDir, "models"))).toEqual(tree(modelsDir));
});
