// One process per cache entry: two `odapi prepare` runs appending to the same .part file would corrupt it.
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { OdapiError } from "../../common/errors";

/** True when a process with this pid exists (signal 0 only checks). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the entry's lock file (its holder's pid), or takes over one left by a process that died. */
export async function lockCacheEntry(dir: string, name: string): Promise<() => Promise<void>> {
  const lock = path.join(dir, ".lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: "wx" });
      return () => rm(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number((await readFile(lock, "utf8").catch(() => "")).trim());
      if (Number.isInteger(holder) && holder > 0 && pidAlive(holder)) {
        throw new OdapiError(
          `another odapi process (pid ${holder}) is downloading ${name} into ${dir}`,
          "wait for it to finish, then rerun (the cache is shared)",
          "locked",
        );
      }
      await rm(lock, { force: true });
    }
  }
  throw new OdapiError(`could not lock ${dir}`, `remove ${lock} and rerun`, "locked");
}
