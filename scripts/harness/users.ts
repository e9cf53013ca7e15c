// Throwaway login users for tests and benchmarks that must SSH in as someone other than root (needs root).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * Creates `name` with bash as its shell and `home` as its home, holding only `publicKey` in
 * ~/.ssh/authorized_keys. `skel` copies /etc/skel (the distribution's stock shell profile, as on a fresh cloud
 * image); without it the home has no profile at all.
 */
export function addLoginUser(
  name: string,
  home: string,
  publicKey: string,
  opts: { skel?: boolean } = {},
): void {
  const create = opts.skel ? ["--create-home", "--skel", "/etc/skel"] : ["--no-create-home"];
  execFileSync("useradd", [...create, "--home-dir", home, "--shell", "/bin/bash", name]);
  // A locked password ("!") makes sshd refuse the account even for key logins; "*" = no password, not locked.
  execFileSync("usermod", ["--password", "*", name]);
  mkdirSync(path.join(home, ".ssh"), { recursive: true, mode: 0o700 });
  writeFileSync(path.join(home, ".ssh", "authorized_keys"), publicKey, { mode: 0o600 });
  execFileSync("chown", ["-R", `${name}:${name}`, home]);
}

/**
 * A throwaway login user with the distribution's stock shell profile (/etc/skel), for benchmarks. Every remote
 * command starts the login shell, and root's ~/.bashrc on these shared machines runs `pyenv init` (~0.15–0.3 s
 * per command): a fresh cloud image's user pays a few ms. Undefined unless root with useradd (then log in as self).
 */
export interface LoginUser {
  name: string;
  /** Gives the user a dir to upload into. */
  own(dir: string): void;
  remove(): void;
}

export function benchLoginUser(work: string, publicKey: string): LoginUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (spawnSync("sh", ["-c", "command -v useradd"]).status !== 0) return undefined;
  const name = `odbench${process.pid % 100000}`;
  addLoginUser(name, path.join(work, "home"), publicKey, { skel: true });
  return {
    name,
    own: (dir) => execFileSync("chown", [`${name}:${name}`, dir]),
    remove: () => spawnSync("userdel", [name], { stdio: "ignore" }),
  };
}
