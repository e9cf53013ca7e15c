// A PATH without some commands, for "not installed" tests on machines that have them (CI installs docker.io
// for the rehearsal, so /usr/bin/docker exists there): symlinks to everything else in /usr/bin and /bin.
import { existsSync, readdirSync, symlinkSync } from "node:fs";
import path from "node:path";
import { makeTempDir } from "./tmp";

/** A new temp dir to use as the whole PATH: every command of /usr/bin and /bin except `commands`. */
export function pathWithout(commands: string[]): string {
  const dir = makeTempDir("odapi-path-");
  for (const source of ["/usr/bin", "/bin"]) {
    for (const name of readdirSync(source)) {
      const link = path.join(dir, name);
      if (commands.includes(name) || existsSync(link)) continue;
      symlinkSync(path.join(source, name), link);
    }
  }
  return dir;
}
