// No private key left on disk after a deploy ends by SIGTERM, SIGHUP or SIGKILL: the real `odapi deploy` against a
// real sshd, with the key from --key and from ODAPI_SSH_KEY. A stand-in `sftp` that never finishes its handshake
// holds the moment the OpenSSH client's key copy exists; the signal arrives then.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { connect } from "../../../bootstrap/ssh/session";
import { KEY_DIR_PREFIX } from "../../../bootstrap/transfer/key-dir";
import { OpenSshSftp } from "../../../bootstrap/transfer/openssh-sftp";
import { type RunResult, runOdapi } from "../../helpers/run";
import { type SshdCliFixture, startSshdCliFixture } from "../../helpers/sshd-cli";
import { writeModelVersion } from "../../helpers/tmp";

let fx: SshdCliFixture;
let n = 0;

beforeAll(async () => {
  fx = await startSshdCliFixture({ tmpPrefix: "odapi-key-leak-" });
  writeModelVersion(fx.modelsDir, "ssd", 1, {
    pb: "pb",
    index: "ix",
    data: Buffer.alloc(2 * 1024 * 1024, 7),
  });
});

afterAll(() => fx.stop());

/** A fresh TMPDIR for one deploy, and a PATH whose `sftp` writes its pid and then sleeps in place of a handshake. */
function scene(): { tmpdir: string; pidFile: string; stuckPath: string } {
  const dir = path.join(fx.tmp, `scene-${++n}`);
  const tmpdir = path.join(dir, "tmp");
  const bin = path.join(dir, "bin");
  mkdirSync(tmpdir, { recursive: true });
  mkdirSync(bin);
  const pidFile = path.join(dir, "sftp.pid");
  writeFileSync(path.join(bin, "sftp"), `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 60\n`, {
    mode: 0o755,
  });
  return { tmpdir, pidFile, stuckPath: `${bin}:${process.env.PATH}` };
}

/** The private key's base64 body, as any copy of it would hold it. */
function keyBody(): string {
  return fx.sshd.userKey.split("\n")[1] as string;
}

/** Files under dir whose content holds the private key. */
function filesHoldingKey(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesHoldingKey(p));
    else if (e.isFile() && readFileSync(p, "utf8").includes(keyBody())) out.push(p);
  }
  return out;
}

function keyDirs(tmpdir: string): string[] {
  return readdirSync(tmpdir).filter((d) => d.startsWith(KEY_DIR_PREFIX));
}

type KeySource = "key file" | "ODAPI_SSH_KEY";

/** Runs a deploy that is sent `signal` once the sftp client started with the key copy on disk. */
async function deployKilled(
  s: ReturnType<typeof scene>,
  source: KeySource,
  signal: NodeJS.Signals,
): Promise<RunResult & { copiesWhenSignalled: number }> {
  const conn = fx.conn(path.join(fx.tmp, `remote-${n}`));
  const args = source === "key file" ? conn : conn.filter((a, i) => a !== "--key" && conn[i - 1] !== "--key");
  let copiesWhenSignalled = -1;
  const run = await runOdapi(
    ["deploy", ...args, "--models", fx.modelsDir, "--no-start", "--transport", "openssh"],
    {
      cwd: fx.tmp,
      env: {
        TMPDIR: s.tmpdir,
        PATH: s.stuckPath,
        ODAPI_SSH_KEY: source === "ODAPI_SSH_KEY" ? fx.sshd.userKey : "",
      },
      onSpawn: (child) => {
        // Bounded wait (≤ 30 s) for the stand-in sftp to start: the key copy exists from then on.
        let tries = 0;
        const poll = setInterval(() => {
          if (existsSync(s.pidFile) || ++tries > 300 || child.exitCode !== null) {
            clearInterval(poll);
            copiesWhenSignalled = filesHoldingKey(s.tmpdir).length;
            child.kill(signal);
          }
        }, 100);
      },
    },
  );
  const sftpPid = Number(readFileSync(s.pidFile, "utf8"));
  try {
    process.kill(sftpPid, "SIGKILL");
  } catch {
    // already gone with its parent
  }
  return { ...run, copiesWhenSignalled };
}

test.each([
  ["SIGTERM", "key file"],
  ["SIGTERM", "ODAPI_SSH_KEY"],
  ["SIGHUP", "key file"],
  ["SIGHUP", "ODAPI_SSH_KEY"],
] as [NodeJS.Signals, KeySource][])(
  "%s during a deploy (key from %s): no key copy remains",
  async (signal, source) => {
    const s = scene();
    const run = await deployKilled(s, source, signal);
    // The copy was there while the client authenticated, and the deploy ended by the signal itself.
    expect(run.copiesWhenSignalled).toBe(1);
    expect(run.signal).toBe(signal);
    expect(filesHoldingKey(s.tmpdir)).toEqual([]);
    expect(keyDirs(s.tmpdir)).toEqual([]);
  },
);

test.each(["key file", "ODAPI_SSH_KEY"] as KeySource[])(
  "SIGKILL during a deploy (key from %s): the next deploy removes the copy it left",
  async (source) => {
    const s = scene();
    const run = await deployKilled(s, source, "SIGKILL");
    expect(run.signal).toBe("SIGKILL");
    // Nothing runs in a SIGKILLed process: the copy stays until the next start.
    expect(filesHoldingKey(s.tmpdir)).toHaveLength(1);
    const next = await runOdapi(
      ["deploy", ...fx.conn(path.join(fx.tmp, `remote-next-${n}`)), "--models", fx.modelsDir, "--no-start"],
      { cwd: fx.tmp, env: { TMPDIR: s.tmpdir, ODAPI_SSH_KEY: "", ODAPI_API_KEY: "" }, timeoutMs: 60_000 },
    );
    expect(next.stderr).not.toMatch(/^error/m);
    expect(next.code).toBe(0);
    expect(filesHoldingKey(s.tmpdir)).toEqual([]);
    expect(keyDirs(s.tmpdir)).toEqual([]);
  },
);

test("a real sftp client: the key copy is deleted as soon as it has logged in, before any file is sent", async () => {
  const s = scene();
  const before = process.env.TMPDIR;
  process.env.TMPDIR = s.tmpdir;
  const session = await connect(fx.sshd.target(), { readyTimeoutMs: 10_000 });
  try {
    const client = new OpenSshSftp(session.target);
    try {
      expect(filesHoldingKey(s.tmpdir)).toHaveLength(1);
      await client.ready;
      // Logged in and still running (its pinned known_hosts stays), but the key copy is gone.
      const [dir] = keyDirs(s.tmpdir);
      expect(readdirSync(path.join(s.tmpdir, dir as string))).toEqual(["known_hosts"]);
      expect(filesHoldingKey(s.tmpdir)).toEqual([]);
    } finally {
      await client.close();
    }
    expect(keyDirs(s.tmpdir)).toEqual([]);
  } finally {
    await session.close();
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
});
