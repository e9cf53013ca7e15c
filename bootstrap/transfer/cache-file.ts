// odapi's per-user cache files (hash cache, last sync per target): only ever save time, so unreadable means empty.
import { readFileSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** Where odapi keeps what only saves time (hash cache, last sync per target): $ODAPI_CACHE_DIR or the XDG cache. */
export function odapiCacheDir(): string {
  return (
    process.env.ODAPI_CACHE_DIR ||
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "odapi")
  );
}

/** A JSON object of cached facts, or {} when missing or unreadable (a cache only ever saves time). */
export async function loadCache<T>(file: string): Promise<Record<string, T>> {
  return parseCache<T>(await readFile(file, "utf8").catch(() => ""));
}

/** loadCache without waiting on the event loop: for the few bytes read before anything else can start. */
export function loadCacheSync<T>(file: string): Record<string, T> {
  try {
    return parseCache<T>(readFileSync(file, "utf8"));
  } catch {
    return {};
  }
}

function parseCache<T>(text: string): Record<string, T> {
  try {
    const data = JSON.parse(text) as Record<string, T>;
    return typeof data === "object" && data !== null && !Array.isArray(data) ? data : {};
  } catch {
    return {};
  }
}

/** Writes a cache file whole (temp name + rename), 0600 in a 0700 dir; a failure is ignored. */
export async function saveCache<T>(file: string, cache: Record<string, T>): Promise<void> {
  try {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(cache), { mode: 0o600 });
    await rename(tmp, file);
  } catch {
    // A cache that cannot be written only costs speed next time.
  }
}
