// Temp dirs for tests, and a content fingerprint of a directory tree.
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";

/** A new empty dir under the OS temp dir, named `<prefix>XXXXXX`. */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A fresh temp dir for each test of the enclosing block, removed after it; call the result for its path. */
export function tempDirPerTest(prefix: string): () => string {
  let dir = "";
  beforeEach(() => {
    dir = makeTempDir(prefix);
  });
  afterEach(() => removeDir(dir));
  return () => dir;
}

/** sha256 of every regular file under dir, by relative path ({} when dir does not exist). */
export function hashTree(dir: string, prefix = ""): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(path.join(dir, prefix))) return out;
  for (const e of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, hashTree(dir, rel));
    else if (e.isFile())
      out[rel] = createHash("sha256")
        .update(readFileSync(path.join(dir, rel)))
        .digest("hex");
  }
  return out;
}

/**
 * A SavedModel-shaped version dir, modelsDir/<name>/<version>/: saved_model.pb and, when given,
 * variables/variables.index and variables/variables.data-00000-of-00001 with these contents.
 */
export function writeModelVersion(
  modelsDir: string,
  name: string,
  version: number,
  files: { pb: string | Buffer; index?: string | Buffer; data?: string | Buffer },
): string {
  const dir = path.join(modelsDir, name, String(version));
  const hasVariables = files.index !== undefined || files.data !== undefined;
  mkdirSync(hasVariables ? path.join(dir, "variables") : dir, { recursive: true });
  writeFileSync(path.join(dir, "saved_model.pb"), files.pb);
  if (files.index !== undefined) writeFileSync(path.join(dir, "variables", "variables.index"), files.index);
  if (files.data !== undefined)
    writeFileSync(path.join(dir, "variables", "variables.data-00000-of-00001"), files.data);
  return dir;
}
