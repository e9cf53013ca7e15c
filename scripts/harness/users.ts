// Throwaway login users for tests and benchmarks that must SSH in as someone other than root (needs root).
import { execFileSync } from "node:child_process";
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
