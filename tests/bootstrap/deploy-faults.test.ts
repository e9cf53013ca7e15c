// `odapi deploy` when things go wrong mid-way, through the real CLI and a real sshd: the connection cut at
// ~50 % of the upload, and Ctrl-C. Each must end with a clear error, leave no partial version where TF Serving
// would load it, hold no lock afterwards, and let an immediate rerun finish with the exact tree.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { ExitCode } from "../../common/errors";
import { type Sshd, startSshd } from "../helpers/sshd";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy";

const BIN = path.join(__dirname, "..", "..", "bin", "odapi.cjs");
const BIG = 24 * 1024 * 1024;

let sshd: Sshd;
let tmp: string;
let modelsDir: string;
let keyFile: string;
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  sshd = await startSshd();
  tmp = mkdtempSync(path.join(os.tmpdir(), "odapi-deploy-faults-"));
  modelsDir = path.join(tmp, "models");
  const dir = path.join(modelsDir, "big_model", "1");
  mkdirSync(path.join(dir, "variables"), { recursive: true });
  writeFileSync(path.join(dir, "saved_model.pb"), randomBytes(64 * 1024));
  writeFileSync(path.join(dir, "variables", "variables.index"), randomBytes(1024));
  writeFileSync(path.join(dir, "variables", "variables.data-00000-of-00001"), randomBytes(BIG));
  keyFile = path.join(tmp, "key");
  writeFileSync(keyFile, sshd.userKey, { mode: 0o600 });
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  await sshd.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function deployArgs(port: number, remoteDir: string): string[] {
  return [
    "deploy",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--user",
    sshd.user,
    "--key",
    keyFile,
    "--host-key",
    sshd.hostKey,
    "--models",
    modelsDir,
    "--remote-dir",
    remoteDir,
    "--no-start",
    "--json",
    "--connect-timeout",
    "0",
  ];
}

function odapi(args: string[], onStderr?: (text: string, kill: (sig: NodeJS.Signals) => void) => void) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
        onStderr?.(stderr, (sig) => child.kill(sig));
      });
      child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    },
  );
}

function tree(dir: string, prefix = ""): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(path.join(dir, prefix))) return out;
  for (const e of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, tree(dir, rel));
    else if (e.isFile())
      out[rel] = createHash("sha256")
        .update(readFileSync(path.join(dir, rel)))
        .digest("hex");
  }
  return out;
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
  const cut = await odapi(deployArgs(proxy.port, remoteDir));
  expect(proxy.stats().cut).toBe(true);
  expect(cut.code).toBe(ExitCode.unreachable);
  expect(cut.stdout).toBe("");
  expect(cut.stderr).toMatch(/^error: .*connection .*lost/m);
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
  expect(run.code).not.toBe(0);
  expect(run.stdout).toBe("");
  expect(run.stderr).toContain("interrupted: stopping after the current step");
  expect(run.stderr).toMatch(/^error: upload cancelled/m);
  expect(servedVersions(remoteDir)).not.toHaveProperty("1");

  const rerun = await odapi(deployArgs(sshd.port, remoteDir));
  expect(rerun.code).toBe(0);
  expect(tree(path.join(remoteDir, "models"))).toEqual(tree(modelsDir));
});
