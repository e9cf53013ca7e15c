// A prepared-models dir of random bytes, laid out as `odapi prepare` writes it: <name>/<version>/saved_model.pb …
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Writes `files` (path in the version dir → size) for each model version under `dir`. */
export function writeModelTree(
  dir: string,
  versions: { model: string; version: number; files: Record<string, number> }[],
): void {
  for (const v of versions) {
    for (const [rel, size] of Object.entries(v.files)) {
      const file = path.join(dir, v.model, String(v.version), rel);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, randomBytes(size));
    }
  }
}

/** A small SavedModel-shaped version: graph, one variables shard of `variablesBytes`, the index. */
export function savedModelFiles(variablesBytes: number): Record<string, number> {
  return {
    "saved_model.pb": 4096,
    "variables/variables.index": 512,
    "variables/variables.data-00000-of-00001": variablesBytes,
  };
}
