// The commands the Pulumi program hands to @pulumi/command, run for real against a real OpenSSH server on
// 127.0.0.1: the SSH wait script over an SSH session (what remote.Command does), and the exact delete line of
// the dev stack through `sh -c` (what local.Command does) with the key in the environment and the host key pinned.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { connect } from "../../bootstrap/ssh/session";
import { SSH_WAIT_SCRIPT } from "../../infra/deploy-command";
import { type Sshd, startSshd } from "../../scripts/harness/sshd";
import { renderServingFiles } from "../../serving";
import { ROOT, runLikeLocalCommand, runStack } from "./harness";

let sshd: Sshd;
let remoteDir: string;

beforeAll(async () => {
  sshd = await startSshd();
  await sshd.ready;
  // What a deploy leaves on the host: the rendered files in the remote dir. stop.sh itself is tested in
  // tests/serving (it needs a Docker engine); here it is replaced by a recorder, because the subject is the
  // chain Pulumi → sh -c → odapi CLI → SSH (pinned key) → the script in the remote dir.
  remoteDir = path.join(sshd.dir, "remote");
  mkdirSync(remoteDir);
  for (const f of renderServingFiles({ host: "cpu", remoteDir, models: [{ name: "m" }] })) {
    mkdirSync(path.dirname(path.join(remoteDir, f.path)), { recursive: true });
    writeFileSync(path.join(remoteDir, f.path), f.content);
    chmodSync(path.join(remoteDir, f.path), f.mode);
  }
  writeFileSync(
    path.join(remoteDir, "stop.sh"),
    '#!/usr/bin/env bash\necho "ran as $(id -un): $0 $*" >> "$(dirname "$0")/stop.ran"\necho "odapi stop.sh: stopped"\n',
    { mode: 0o755 },
  );
});

function stopRuns(): string[] {
  const file = path.join(remoteDir, "stop.ran");
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
}

afterAll(async () => {
  await sshd?.stop();
});

async function devStackDeleteLine(hostKey: string) {
  const run = await runStack("dev", {
    overrides: {
      "odapi:sshHost": "127.0.0.1",
      "odapi:sshPort": sshd.port,
      "odapi:sshUser": sshd.user,
      "odapi:hostKey": hostKey,
      "odapi:remoteDir": remoteDir,
      "odapi:sshPrivateKey": sshd.userKey,
    },
    secretKeys: ["odapi:sshPrivateKey"],
  });
  if (run.error) throw run.error;
  return run.one("command:local:Command").inputs as {
    delete: string;
    dir: string;
    environment: Record<string, string>;
  };
}

test("the SSH wait script runs over SSH and reports ready (no cloud-init here: passes at once)", async () => {
  const session = await connect(sshd.target());
  try {
    const r = await session.exec(["sh", "-c", SSH_WAIT_SCRIPT]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("odapi-ssh-ready");
  } finally {
    await session.close();
  }
});

test("the dev stack's delete line stops serving through the real CLI, key from the environment, host key pinned", async () => {
  const cmd = await devStackDeleteLine(sshd.hostKey);
  expect(cmd.dir).toBe(ROOT);
  expect(cmd.delete).not.toContain("PRIVATE KEY");
  const before = stopRuns().length;
  const r = await runLikeLocalCommand(cmd.delete, cmd, 90_000);
  expect(r.stderr).not.toMatch(/^error:/m);
  expect(r.stdout).toContain("stopped odapi on 127.0.0.1");
  expect(r.code).toBe(0);
  expect(stopRuns().slice(before)).toEqual([`ran as ${sshd.user}: ${remoteDir}/stop.sh`]);
}, 120_000);

test("the same line refuses a host whose key differs from the pinned one (exit code 5)", async () => {
  const cmd = await devStackDeleteLine(
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherHostKeyThatIsNotTheServers0000000",
  );
  const before = stopRuns().length;
  const r = await runLikeLocalCommand(cmd.delete, cmd, 90_000);
  expect(stopRuns().length).toBe(before);
  expect(r.code).toBe(5);
  expect(r.stderr).toMatch(/host key/i);
}, 120_000);
