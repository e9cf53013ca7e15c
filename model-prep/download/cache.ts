// Where a catalog model lives in the local download cache: one folder per model name, fixed file names. Pure.
import os from "node:os";
import path from "node:path";

export interface CachePaths {
  dir: string;
  archive: string;
  part: string;
  /** ETag / Last-Modified of the response the part file came from. */
  partValidator: string;
  sha256File: string;
  /** The extracted SavedModel (the dir holding saved_model.pb). */
  savedModel: string;
  /** The archive sha256 the extracted dir came from. */
  extractedFrom: string;
}

/** `$ODAPI_CACHE_DIR`, else `$XDG_CACHE_HOME/object-detection-api/models`, else `~/.cache/object-detection-api/models`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string {
  if (env.ODAPI_CACHE_DIR) return env.ODAPI_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || path.join(home, ".cache");
  return path.join(base, "object-detection-api", "models");
}

export function cachePaths(cacheDir: string, name: string): CachePaths {
  const dir = path.join(cacheDir, name);
  return {
    dir,
    archive: path.join(dir, "model.tar.gz"),
    part: path.join(dir, "model.tar.gz.part"),
    partValidator: path.join(dir, "model.tar.gz.part.validator"),
    sha256File: path.join(dir, "model.tar.gz.sha256"),
    savedModel: path.join(dir, "saved_model"),
    extractedFrom: path.join(dir, "saved_model.from-sha256"),
  };
}
