// The production path: a non-root SSH user (like `ubuntu` on EC2) and real sudo. Two throwaway users are created
// for the test (one with passwordless sudo, one without) and removed afterwards; needs root, useradd and sudo
// (Debian package `sudo`), otherwise the tests are skipped with the reason.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ExitCode } from "../../common/errors";
import type { Sshd } from "../../scripts/harness/sshd";
import { addLoginUser } from "../../scripts/harness/users";
import { runOdapi } from "../helpers/run";
import { type SshdCliFixture, startSshdCliFixture } from "../helpers/sshd-cli";
import { writeModelVersion } from "../helpers/tmp";
import { hasCommand as have } from "../helpers/tools";

const missing = [
  process.getuid?.() === 0 ? "" : "root",
  have("useradd") ? "" : "useradd",
  have("sudo") ? "" : "sudo (apt-get install sudo)",
].filter(Boolean);
if (missing.length) {
  // Visible in the run output, so a skipped suite is never mistaken for a passing one.
  console.warn(`tests/bootstrap/nonroot.test.ts skipped: needs ${missing.join(", ")}`);
}
const suite = missing.length ? describe.skip : describe;

suite("a non-root SSH user", () => {
  const tag = `${process.pid % 100000}`;
  const withSudo = `odapi-s${tag}`;
  const withoutSudo = `odapi-n${tag}`;
  const sudoersFile = `/etc/sudoers.d/odapi-test-${tag}`;
  let fx: SshdCliFixture;
  let tmp: string;
  let sshd: Sshd;
  let modelsDir: string;

  function addUser(name: string): string {
    const home = path.join(tmp, name);
    addLoginUser(name, home, readPub());
    return home;
  }

  function readPub(): string {
    return execFileSync("ssh-keygen", ["-y", "-f", sshd.userKeyPath], { encoding: "utf8" });
  }

  beforeAll(async () => {
    fx = await startSshdCliFixture({
      tmpPrefix: "odapi-nonroot-",
      prepare: (dir) => chmodSync(dir, 0o755), // the users' homes live below it
      sshd: { userAuthorizedKeys: true },
    });
    ({ tmp, sshd, modelsDir } = fx);
    addUser(withSudo);
    addUser(withoutSudo);
    writeFileSync(sudoersFile, `${withSudo} ALL=(ALL) NOPASSWD:ALL\n`, { mode: 0o440 });
    execFileSync("visudo", ["-cf", sudoersFile]);
    writeModelVersion(modelsDir, "m", 1, { pb: "pb" });
    chmodSync(modelsDir, 0o755);
  });

  afterAll(async () => {
    rmSync(sudoersFile, { force: true });
    for (const u of [withSudo, withoutSudo]) {
      try {
        execFileSync("userdel", [u], { stdio: "ignore" });
      } catch {
        // already gone
      }
    }
    await fx?.stop();
  });

  function odapi(user: string, args: string[]) {
    return runOdapi([...args, ...fx.conn(undefined, { user })], { cwd: tmp });
  }

  /** `deploy --models <modelsDir> --remote-dir <remoteDir> --no-start [extra]` as this user. */
  function deployNoStart(user: string, remoteDir: string, extra: string[] = []) {
    return odapi(user, ["deploy", "--models", modelsDir, "--remote-dir", remoteDir, "--no-start", ...extra]);
  }

  function uidOf(user: string): number {
    return Number(execFileSync("id", ["-u", user], { encoding: "utf8" }));
  }

  test("with passwordless sudo, deploy creates its dir under a root-owned parent for the user (sudo -n install -d -o)", async () => {
    const parent = path.join(tmp, "srv"); // root-owned 0755: the user cannot create entries here
    mkdirSync(parent, { mode: 0o755 });
    const remoteDir = path.join(parent, "odapi");
    const run = await deployNoStart(withSudo, remoteDir, ["--json"]);
    expect(run.stderr).not.toMatch(/^error/m);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ models: ["m"], skippedFiles: 0 });
    const uid = uidOf(withSudo);
    for (const d of [remoteDir, `${remoteDir}/models`, `${remoteDir}/config`])
      expect(statSync(d).uid).toBe(uid);
    expect(statSync(path.join(remoteDir, "models", "m", "1", "saved_model.pb")).uid).toBe(uid);
  });

  test("prepare --runner remote as the first command on a host also creates its dir for the user through sudo", async () => {
    const remoteDir = path.join(tmp, "srv", "prep"); // under the root-owned parent, like /opt/odapi
    const run = await odapi(withSudo, [
      "prepare",
      "--catalog",
      "ssd_mobilenet_v2",
      "--runner",
      "remote",
      // Nothing listens here: the run gets as far as the download on the host, then fails on it.
      "--mirror",
      "http://127.0.0.1:9",
      "--remote-dir",
      remoteDir,
    ]);
    expect(run.stderr).not.toMatch(/Permission denied|could not upload the model-prep tools/);
    expect(run.stderr).toMatch(/^error: download of ssd_mobilenet_v2 failed/m);
    const uid = uidOf(withSudo);
    for (const d of [remoteDir, `${remoteDir}/models`, `${remoteDir}/.odapi/model-prep`])
      expect(statSync(d).uid).toBe(uid);
  });

  test("stop runs stop.sh as root through sudo; its odapi-error line comes back as the error", async () => {
    const remoteDir = path.join(tmp, "srv", "odapi");
    const run = await odapi(withSudo, ["stop", "--remote-dir", remoteDir]);
    if (have("docker")) {
      // This machine has the docker client but no engine: stop.sh ran as root (it got past its own root-only
      // parts) and reported the engine.
      expect(run.code).toBe(ExitCode.missingTool);
      expect(run.stderr).toMatch(/^error: the Docker engine is not running or this user may not use it$/m);
    } else {
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/docker is not installed: nothing to stop/);
    }
  });

  test("without passwordless sudo, a dir it cannot create is an auth error saying how to allow sudo", async () => {
    const remoteDir = path.join(tmp, "srv", "other");
    const run = await deployNoStart(withoutSudo, remoteDir);
    expect(run.code).toBe(ExitCode.auth);
    expect(run.stderr).toMatch(
      new RegExp(`^error: ${withoutSudo} cannot run sudo without a password on 127\\.0\\.0\\.1`, "m"),
    );
    expect(run.stderr).toContain(
      `fix: connect as root, or allow passwordless sudo: echo '${withoutSudo} ALL=(ALL) NOPASSWD:ALL'`,
    );
    expect(existsSync(remoteDir)).toBe(false);
  });

  test("status without passwordless sudo says sudo is what failed, not that Docker is missing", async () => {
    const run = await odapi(withoutSudo, ["status", "--remote-dir", path.join(tmp, withoutSudo, "odapi")]);
    expect(run.code).toBe(ExitCode.auth);
    expect(run.stderr).toMatch(
      new RegExp(`^error: ${withoutSudo} cannot run sudo without a password on 127\\.0\\.0\\.1`, "m"),
    );
    expect(run.stderr).toContain(`fix: connect as root, or allow passwordless sudo`);
    expect(run.stderr).not.toMatch(/install|Docker engine/i);
  });

  test("without sudo, a dir under its home needs none: --no-start deploys as the user", async () => {
    const remoteDir = path.join(tmp, withoutSudo, "odapi");
    const run = await deployNoStart(withoutSudo, remoteDir, ["--json"]);
    expect(run.code).toBe(0);
    expect(existsSync(path.join(remoteDir, "models", "m", "1", "saved_model.pb"))).toBe(true);
  });
});
