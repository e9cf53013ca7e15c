// Prepares models on this machine (venv or docker runner): catalog download through the cache, then prepare.py.
// Shared by `odapi prepare` and `odapi publish --catalog`, so both download and prepare the same way.
import { defaultCacheDir, fetchModel } from "../model-prep/download";
import type { PrepareSource } from "../model-prep/plan";
import { type IfExists, type PreparedModel, runLocalPrepare } from "../model-prep/runners";
import { createProgress } from "./progress";

export interface LocalPrepareArgs {
  out: string;
  version: number;
  ifExists: IfExists;
  maxDetections?: number;
  cacheDir?: string;
  refresh: boolean;
}

export interface ModelOutcome {
  name: string;
  status: "prepared" | "skipped";
  path: string;
  sha256?: string;
}

export async function prepareHere(
  kind: "venv" | "docker",
  sources: PrepareSource[],
  a: LocalPrepareArgs,
  say: (line: string) => void,
): Promise<ModelOutcome[]> {
  const outcomes: ModelOutcome[] = [];
  for (const source of sources) {
    let savedModelDir: string;
    let sha256: string | undefined;
    if (source.kind === "catalog") {
      const progress = createProgress(`download ${source.name}`);
      const fetched = await fetchModel(source.name, source.url, {
        cacheDir: a.cacheDir ?? defaultCacheDir(),
        refresh: a.refresh,
        log: (line) => progress.log(`${source.name}: ${line}`),
        onProgress: (p) =>
          progress.update({
            sentBytes: p.receivedBytes,
            totalBytes: p.totalBytes ?? p.receivedBytes,
            bytesPerSecond: p.bytesPerSecond,
          }),
      }).finally(() => progress.stop());
      say(`${source.name}: ${fetched.fromCache ? "cached" : "downloaded"}, sha256 ${fetched.sha256}`);
      savedModelDir = fetched.savedModelDir;
      sha256 = fetched.sha256;
    } else {
      savedModelDir = source.savedModelDir;
    }
    const done: PreparedModel = await runLocalPrepare(
      kind,
      { name: source.name, savedModelDir },
      { outDir: a.out, version: a.version, ifExists: a.ifExists, maxDetections: a.maxDetections },
      (line) => say(`${source.name}: ${line.replace(/^prepare: /, "")}`),
    );
    outcomes.push({ name: done.name, status: done.status, path: done.path, sha256 });
  }
  return outcomes;
}
