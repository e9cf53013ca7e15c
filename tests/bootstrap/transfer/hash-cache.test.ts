// The local hash cache on real files: a hit reads nothing, any change of the stat key (size, mtime, ctime, inode)
// re-reads the file, and a corrupt or foreign cache file is a cold cache, never an answer. Written 0600, atomically.
import { createHash } from "node:crypto";
import { chmodSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defaultHashCacheFile, HashCache } from "../../../bootstrap/transfer/hash-cache";
import { sha256File } from "../../../common/files";
import { tempDirPerTest } from "../../helpers/tmp";

const dir = tempDirPerTest("odapi-hash-cache-");
const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const FAKE = "f".repeat(64);

/** Rewrites the cache file's entry for `abs` to claim FAKE: a later answer of FAKE can only come from the cache. */
function forgeEntry(cacheFile: string, abs: string): void {
  const all = JSON.parse(readFileSync(cacheFile, "utf8"));
  all[abs].sha256 = FAKE;
  writeFileSync(cacheFile, JSON.stringify(all));
}

async function warm(file: string, cacheFile: string): Promise<void> {
  const cache = await HashCache.open(cacheFile);
  await cache.sha256(file);
  await cache.save();
  forgeEntry(cacheFile, file);
}

/** The sha256 a fresh cache instance answers for `file`, and whether it had to read the file. */
async function answer(file: string, cacheFile: string): Promise<{ sha256: string; hashed: number }> {
  const cache = await HashCache.open(cacheFile);
  const sha256 = await cache.sha256(file);
  return { sha256, hashed: cache.hashed };
}

describe("HashCache", () => {
  it("answers from the cache while the stat key holds, without reading the file", async () => {
    const file = path.join(dir(), "a.bin");
    const cacheFile = path.join(dir(), "cache", "local-hashes.json");
    writeFileSync(file, "model bytes");
    const first = await HashCache.open(cacheFile);
    expect(await first.sha256(file)).toBe(sha("model bytes"));
    expect(first.hashed).toBe(1);
    await first.save();
    expect(await answer(file, cacheFile)).toEqual({ sha256: sha("model bytes"), hashed: 0 });
    // The forged record is believed as long as nothing in the stat key moved: proof no byte was read.
    forgeEntry(cacheFile, file);
    expect(await answer(file, cacheFile)).toEqual({ sha256: FAKE, hashed: 0 });
  });

  it("re-reads a file whose size, mtime, ctime or inode changed", async () => {
    const file = path.join(dir(), "a.bin");
    const cacheFile = path.join(dir(), "hashes.json");
    writeFileSync(file, "version one");

    // Same size, new content, mtime put back as it was: the ctime still moved.
    await warm(file, cacheFile);
    const { atime, mtime } = statSync(file);
    writeFileSync(file, "version two");
    utimesSync(file, atime, mtime);
    expect(await answer(file, cacheFile)).toEqual({ sha256: sha("version two"), hashed: 1 });

    // Only the mtime touched.
    await warm(file, cacheFile);
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await answer(file, cacheFile)).toEqual({ sha256: sha("version two"), hashed: 1 });

    // Only the size (an append).
    await warm(file, cacheFile);
    writeFileSync(file, "version two!");
    expect(await answer(file, cacheFile)).toEqual({ sha256: sha("version two!"), hashed: 1 });

    // Only the ctime (a chmod).
    await warm(file, cacheFile);
    chmodSync(file, 0o600);
    expect(await answer(file, cacheFile)).toEqual({ sha256: sha("version two!"), hashed: 1 });

    // Another file renamed over it, with the same size and mtime: a new inode.
    await warm(file, cacheFile);
    const other = path.join(dir(), "b.bin");
    writeFileSync(other, "version TWO!");
    const st = statSync(file);
    utimesSync(other, st.atime, st.mtime);
    renameSync(other, file);
    expect(await answer(file, cacheFile)).toEqual({ sha256: sha("version TWO!"), hashed: 1 });
  });

  it("ignores a corrupt or foreign cache file and replaces it with a valid one, mode 0600", async () => {
    const file = path.join(dir(), "a.bin");
    const cacheFile = path.join(dir(), "hashes.json");
    writeFileSync(file, "bytes");
    const key = statSync(file, { bigint: true });
    const stolen = {
      size: 5,
      mtimeNs: String(key.mtimeNs),
      ctimeNs: String(key.ctimeNs),
      ino: String(key.ino),
      dev: String(key.dev),
    };
    for (const text of [
      "{not json",
      "[1, 2]",
      JSON.stringify({ [file]: { ...stolen, sha256: "not a sha" } }),
      JSON.stringify({ [file]: { ...stolen, size: "5", sha256: FAKE } }),
      // The old cache format (size + mtimeMs + ino) does not vouch for the ctime or device: hashed again.
      JSON.stringify({
        [file]: { size: 5, mtimeMs: Number(key.mtimeMs), ino: Number(key.ino), sha256: FAKE },
      }),
    ]) {
      writeFileSync(cacheFile, text, { mode: 0o644 });
      const cache = await HashCache.open(cacheFile);
      expect({ text, sha256: await cache.sha256(file) }).toEqual({ text, sha256: sha("bytes") });
      expect(cache.hashed).toBe(1);
      await cache.save();
      expect(statSync(cacheFile).mode & 0o777).toBe(0o600);
      expect(await answer(file, cacheFile)).toEqual({ sha256: sha("bytes"), hashed: 0 });
    }
  });

  it("writes nothing when nothing was hashed, and none at all when disabled", async () => {
    const file = path.join(dir(), "a.bin");
    writeFileSync(file, "bytes");
    const off = await HashCache.open(false);
    expect(await off.sha256(file)).toBe(sha("bytes"));
    await off.save();
    const cacheFile = path.join(dir(), "hashes.json");
    await warm(file, cacheFile);
    const before = readFileSync(cacheFile, "utf8");
    const cache = await HashCache.open(cacheFile);
    await cache.sha256(file);
    await cache.save();
    expect(readFileSync(cacheFile, "utf8")).toBe(before);
  });

  it("lives in $ODAPI_CACHE_DIR, else $XDG_CACHE_HOME/odapi, else ~/.cache/odapi", () => {
    const saved = { ...process.env };
    try {
      process.env.ODAPI_CACHE_DIR = "/x/odapi-cache";
      expect(defaultHashCacheFile()).toBe("/x/odapi-cache/local-hashes.json");
      delete process.env.ODAPI_CACHE_DIR;
      process.env.XDG_CACHE_HOME = "/x/xdg";
      expect(defaultHashCacheFile()).toBe("/x/xdg/odapi/local-hashes.json");
      delete process.env.XDG_CACHE_HOME;
      expect(defaultHashCacheFile()).toBe(path.join(os.homedir(), ".cache/odapi/local-hashes.json"));
    } finally {
      process.env = saved;
    }
  });

  it("sha256File (the cache's reader) reads files larger than its buffer whole", async () => {
    const file = path.join(dir(), "big.bin");
    const data = Buffer.alloc(9 * 1024 * 1024 + 7, 0x5a);
    writeFileSync(file, data);
    expect(await sha256File(file)).toBe(createHash("sha256").update(data).digest("hex"));
  });
});
