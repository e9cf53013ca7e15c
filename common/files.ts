// Output files appear whole or not at all: write a temp file beside the target, then rename over it.
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { OdapiError } from "./errors";

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
    throw new OdapiError(
      `cannot write ${file}: ${err.code ?? err.message}`,
      "pass --out with a directory you can write to (and check free disk space)",
      "failure",
      { cause: e },
    );
  }
}
