// Fixed costs of a deploy on a real loopback sshd: connect, one exec, the lock, the OpenSSH data connection's
// login (with OpenSSH's default key exchange and with the one odapi asks for first), a no-op redeploy. Prints a table.
// Run: npx tsx scripts/bench-deploy-costs.ts [rounds]   (starts its own sshd via scripts/harness/sshd.ts; needs openssh-server)

import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Table from "cli-table3";
import { deploy } from "../bootstrap/deploy/index";
import { acquireRemoteLock } from "../bootstrap/deploy/lock";
import { connect } from "../bootstrap/ssh/session";
import { OpenSshSftp } from "../bootstrap/transfer/openssh-sftp";
import { median } from "../common/stats";
import { startSshd } from "./harness/sshd";
import { benchLoginUser } from "./harness/users";

async function timed(rounds: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 10);
  const sshd = await startSshd({ userAuthorizedKeys: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), "odapi-ssh-bench-"));
  chmodSync(tmp, 0o755);
  // As root: a fresh user with the stock shell profile (root's here runs pyenv init in every remote command).
  const user = benchLoginUser(tmp, readFileSync(`${sshd.userKeyPath}.pub`, "utf8"));
  user?.own(tmp);
  try {
    const target = sshd.target(user ? { user: user.name } : {});
    console.log(`logging in as ${target.user}`);
    const rows: [string, number[]][] = [];
    rows.push([
      "connect (TCP + kex + auth)",
      await timed(rounds, async () => (await connect(target)).close()),
    ]);
    const session = await connect(target);
    rows.push(["exec `true` (one round trip)", await timed(rounds, () => session.run(["true"]))]);
    // The data connection's login, as deploy starts it (a whole `sftp` process up to its first answer). "OpenSSH's
    // default" points `sftp` at a wrapper that drops odapi's KexAlgorithms option, so only that option differs.
    const login = async (binary?: string) => {
      const client = new OpenSshSftp(target, binary ? { binary } : {});
      try {
        await client.readyWithin(20_000);
      } finally {
        await client.close();
      }
    };
    const defaultKex = path.join(tmp, "sftp-default-kex");
    writeFileSync(
      defaultKex,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash script; ${…} is bash syntax
      '#!/bin/bash\nargs=()\nfor a in "$@"; do case "$a" in KexAlgorithms=*) unset "args[-1]" ;; *) args+=("$a") ;; esac; done\nexec sftp "${args[@]}"\n',
      { mode: 0o755 },
    );
    for (let i = 0; i < rounds; i++) {
      // Interleaved, so a burst of load from other processes hits both alike.
      const pair: [string, string | undefined][] = [
        ["sftp login, OpenSSH's default key exchange", defaultKex],
        ["sftp login, curve25519 first (odapi)", undefined],
      ];
      for (const [name, binary] of pair) {
        const t = await timed(1, () => login(binary));
        const row = rows.find((r) => r[0] === name);
        if (row) row[1].push(...t);
        else rows.push([name, t]);
      }
    }
    rows.push([
      "lock acquire + release",
      await timed(rounds, async () =>
        (await acquireRemoteLock(session, path.join(tmp, "lockdir"))).release(),
      ),
    ]);
    await session.close();

    const models = path.join(tmp, "models", "m", "1");
    mkdirSync(path.join(models, "variables"), { recursive: true });
    writeFileSync(path.join(models, "saved_model.pb"), randomBytes(1 << 20));
    writeFileSync(path.join(models, "variables", "variables.data-00000-of-00001"), randomBytes(20 << 20));
    const run = () =>
      deploy({
        target,
        remoteDir: path.join(tmp, "remote"),
        modelsDir: path.join(tmp, "models"),
        start: false,
      });
    rows.push(["deploy --no-start, first (21 MiB)", await timed(1, run)]);
    rows.push(["deploy --no-start, no-op rerun", await timed(rounds, run)]);

    const table = new Table({
      head: ["step (loopback sshd)", "median ms", "min ms", "max ms", "runs"],
      style: { head: [], border: [] },
    });
    for (const [name, xs] of rows) {
      table.push([
        name,
        median(xs).toFixed(1),
        Math.min(...xs).toFixed(1),
        Math.max(...xs).toFixed(1),
        xs.length,
      ]);
    }
    process.stdout.write(`${table.toString()}\n`);
  } finally {
    await sshd.stop();
    user?.remove();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
