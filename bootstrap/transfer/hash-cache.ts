// The local hash cache, like git's index: a file's sha256 is reused only while its whole stat key (size, mtime and
// ctime in ns, inode, device) is unchanged, so a no-op deploy or publish reads no file. A missing, corrupt or
// foreign cache is simply a cold one: it only saves time, and the remote side's recorded sha256 still decides.
import type { BigIntStats } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { sha256File } from "../../common/files";
import { loadCache, odapiCacheDir, saveCache } from "./cache-file";

/** What must be unchanged for a cached sha256 to hold; bigints as decimal strings (JSON has no 64-bit ints). */
export interface StatKey {
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
  dev: string;
}

interface CacheEntry extends StatKey {
  sha256: string;
}

export function defaultHashCacheFile(): string {
  return path.join(odapiCacheDir(), "local-hashes.json");
}

export function statKeyOf(st: BigIntStats): StatKey {
  return {
    size: Number(st.size),
    mtimeNs: String(st.mtimeNs),
    ctimeNs: String(st.ctimeNs),
    ino: String(st.ino),
    dev: String(st.dev),
  };
}

/** The cached sha256 when `entry` is a well-formed record of exactly this stat key (pure). */
export function cachedSha256(entry: unknown, key: StatKey): string | undefined {
  if (typeof entry !== "object" || entry === null) return undefined;
  const e = entry as Partial<CacheEntry>;
  const same =
    e.size === key.size &&
    e.mtimeNs === key.mtimeNs &&
    e.ctimeNs === key.ctimeNs &&
    e.ino === key.ino &&
    e.dev === key.dev;
  return same && typeof e.sha256 === "string" && /^[0-9a-f]{64}$/.test(e.sha256) ? e.sha256 : undefined;
}

export class HashCache {
  private changed = false;
  /** Files hashed (not answered from the cache) since open: what tests and benchmarks check. */
  hashed = 0;

  private constructor(
    private readonly file: string | false,
    private readonly entries: Record<string, unknown>,
  ) {}

  /** The cache in `file` (false: none, every file is hashed). */
  static async open(file: string | false = defaultHashCacheFile()): Promise<HashCache> {
    return new HashCache(file, file ? await loadCache<unknown>(file) : {});
  }

  /** sha256 of the file at absolute path `abs`: from the cache while its stat key holds, else read and recorded. */
  async sha256(abs: string): Promise<string> {
    const before = statKeyOf(await stat(abs, { bigint: true }));
    const hit = cachedSha256(this.entries[abs], before);
    if (hit) return hit;
    const sha256 = await sha256File(abs);
    this.hashed++;
    // Recorded only if nothing touched the file while it was read: else the key would vouch for other bytes.
    const after = statKeyOf(await stat(abs, { bigint: true }));
    if (cachedSha256({ ...before, sha256 }, after)) {
      this.entries[abs] = { ...before, sha256 } satisfies CacheEntry;
      this.changed = true;
    }
    return sha256;
  }

  /** Writes the cache (atomically, 0600) if anything was recorded. */
  async save(): Promise<void> {
    if (this.file && this.changed) await saveCache(this.file, this.entries);
    this.changed = false;
  }
}
