// Output files appear whole or not at all (a temp file beside the target, then a rename); input trees are
// checked for permissions before long work starts.
import { createHash, randomBytes } from "node:crypto";
import { accessSync, constants, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { OdapiError, unreadableFileError } from "./errors";

export async function writeFileAtomic(file: string, data: Buffer | string): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined); // best effort: the write error below is what matters
    const err = e as NodeJS.ErrnoException;
    const denied = unreadableFileError(e) !== undefined;
    throw new OdapiError(
      `cannot write ${file}: ${denied ? `permission denied (${err.code})` : (err.code ?? err.message)}`,
      "pass --out with a directory you can write to (and check free disk space)",
      denied ? "config" : "failure",
      { cause: e },
    );
  }
}

/**
 * Throws the OdapiError naming the first file or directory below `root` that this user cannot read (or list):
 * a clear error before an upload or a TensorFlow run, not EACCES half-way. Missing paths are left to the caller.
 */
export function requireReadableTree(root: string): void {
  const visit = (p: string) => {
    try {
      const dir = statSync(p).isDirectory();
      accessSync(p, dir ? constants.R_OK | constants.X_OK : constants.R_OK);
      if (dir) for (const name of readdirSync(p)) visit(path.join(p, name));
    } catch (err) {
      const denied = unreadableFileError(err);
      if (denied) throw denied;
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  };
  visit(root);
}

/** Read 4 MiB at a time into one reused buffer: about 1.5× the rate of a read stream's fresh 1 MiB chunks. */
const HASH_READ_SIZE = 4 << 20;

/** sha256 (hex) of a file, read through the hash in large reused chunks (never loaded whole). */
export async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  const fh = await open(file, "r");
  try {
    const buf = Buffer.allocUnsafe(HASH_READ_SIZE);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, HASH_READ_SIZE, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest("hex");
}

/** The text of the file a command-line flag names; an unreadable one is a config error naming the flag and `fix`. */
export function readFlagFile(flag: string, file: string, fix: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw (
      unreadableFileError(err) ??
      new OdapiError(
        `cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        fix,
        "config",
        { cause: err },
      )
    );
  }
}
