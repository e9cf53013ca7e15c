// The setup every CLI-over-SSH test shares: a temp dir, a real sshd, its user key written as a 0600 key file
// in the temp dir, a models dir path there, and the CLI's connection flags for that server.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { type Sshd, type SshdOptions, startSshd } from "../../scripts/harness/sshd";
import { makeTempDir, removeDir } from "./tmp";

/** `--host 127.0.0.1 --port P --user U --key K --host-key H [--remote-dir D]` for this sshd. */
export function sshCliArgs(
  sshd: Sshd,
  opts: { key: string; port?: number; user?: string; remoteDir?: string },
): string[] {
  return [
    "--host",
    "127.0.0.1",
    "--port",
    String(opts.port ?? sshd.port),
    "--user",
    opts.user ?? sshd.user,
    "--key",
    opts.key,
    "--host-key",
    sshd.hostKey,
    ...(opts.remoteDir === undefined ? [] : ["--remote-dir", opts.remoteDir]),
  ];
}

export interface SshdCliFixture {
  sshd: Sshd;
  /** The temp dir: run the CLI here; remote dirs, the key file and the models dir live below it. */
  tmp: string;
  /** The authorized user key, mode 0600. */
  keyFile: string;
  /** tmp/models (not created: the test writes its models). */
  modelsDir: string;
  /** sshCliArgs with this fixture's key file. */
  conn(remoteDir?: string, opts?: { port?: number; user?: string }): string[];
  /** Stops sshd and removes the temp dir. */
  stop(): Promise<void>;
}

export async function startSshdCliFixture(opts: {
  tmpPrefix: string;
  /** sshd options, or a function of the temp dir (created first) returning them. */
  sshd?: SshdOptions | ((tmp: string) => SshdOptions);
  /** Runs on the temp dir before sshd starts. */
  prepare?: (tmp: string) => void;
  keyName?: string;
}): Promise<SshdCliFixture> {
  const tmp = makeTempDir(opts.tmpPrefix);
  let sshd: Sshd;
  try {
    opts.prepare?.(tmp);
    sshd = await startSshd(typeof opts.sshd === "function" ? opts.sshd(tmp) : opts.sshd);
  } catch (err) {
    removeDir(tmp);
    throw err;
  }
  const keyFile = path.join(tmp, opts.keyName ?? "key");
  writeFileSync(keyFile, sshd.userKey, { mode: 0o600 });
  return {
    sshd,
    tmp,
    keyFile,
    modelsDir: path.join(tmp, "models"),
    conn: (remoteDir, o = {}) => sshCliArgs(sshd, { key: keyFile, remoteDir, ...o }),
    stop: async () => {
      await sshd.stop();
      removeDir(tmp);
    },
  };
}
