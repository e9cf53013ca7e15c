// Test data for the transfer tests: model sets of random bytes, remote tree hashing, partial-version checks.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { SshSession } from "../../../bootstrap/ssh/session";
import { type Sshd, startSshd } from "../../../scripts/harness/sshd";

/** File name → size, per model name and version. */
export type ModelSpec = Record<string, Record<string, Record<string, number>>>;

/** Writes random files for each model/version/file (a saved_model.pb is added when missing). */
export function writeModels(modelsDir: string, spec: ModelSpec): void {
  for (const [name, versions] of Object.entries(spec)) {
    for (const [version, files] of Object.entries(versions)) {
      const all = { "saved_model.pb": 2048, ...files };
      for (const [rel, size] of Object.entries(all)) {
        const file = path.join(modelsDir, name, version, rel);
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, randomBytes(size));
      }
    }
  }
}

/** sha256 of every file under `root` (relative paths), skipping the given top-level dirs. */
export function treeHashes(root: string, skip: string[] = [".odapi"]): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string, rel: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (!rel && skip.includes(e.name)) continue;
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) walk(abs, r);
      else out.set(r, createHash("sha256").update(readFileSync(abs)).digest("hex"));
    }
  };
  walk(root, "");
  return out;
}

/** The sha256 map a bundle should produce remotely: local models under "models/…". */
export function expectedHashes(modelsDir: string): Map<string, string> {
  return new Map([...treeHashes(modelsDir, [])].map(([k, v]) => [`models/${k}`, v]));
}

/**
 * Every numeric version dir under `<remoteDir>/models/*` that exists must be complete: exactly the files of
 * one of the allowed contents (by sha256). Returns the problems found (empty = fine).
 */
export function partialVersions(remoteDir: string, allowed: Map<string, string>[]): string[] {
  const problems: string[] = [];
  const modelsRoot = path.join(remoteDir, "models");
  if (!existsSync(modelsRoot)) return problems;
  for (const name of readdirSync(modelsRoot)) {
    for (const v of readdirSync(path.join(modelsRoot, name))) {
      if (!/^\d+$/.test(v)) continue;
      const vDir = path.join(modelsRoot, name, v);
      let seen: Map<string, string>;
      try {
        seen = treeHashes(vDir, []);
      } catch {
        continue; // renamed away while we looked: the next look sees the new state
      }
      const prefix = `models/${name}/${v}/`;
      const ok = allowed.some((full) => {
        const want = new Map(
          [...full].filter(([k]) => k.startsWith(prefix)).map(([k, h]) => [k.slice(prefix.length), h]),
        );
        return want.size === seen.size && [...want].every(([k, h]) => seen.get(k) === h);
      });
      if (!ok) problems.push(`${name}/${v} (${seen.size} files)`);
    }
  }
  return problems;
}

/** Bytes of `local` that are not yet identical in `remote` (compared per 4 KiB page). */
export function missingBytes(local: string, remote: string): number {
  const a = readFileSync(local);
  const b = existsSync(remote) ? readFileSync(remote) : Buffer.alloc(0);
  let missing = 0;
  for (let pos = 0; pos < a.length; pos += 4096) {
    const end = Math.min(a.length, pos + 4096);
    if (end > b.length || !a.subarray(pos, end).equals(b.subarray(pos, end))) missing += end - pos;
  }
  return missing;
}

/** A session whose remote commands are counted (round trips that start a remote shell). */
export function countingSession(session: SshSession): { session: SshSession; execs: () => number } {
  let n = 0;
  const proxy = new Proxy(session, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (key === "exec" || key === "run") {
        return (...args: unknown[]) => {
          n++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { session: proxy, execs: () => n };
}

/**
 * An onProgress that, once more than `afterBytes` are sent, has "another process" take all free space on `disk`
 * (a 24 MiB filler; ENOSPC part-way is the point). `filled()` tells whether it happened.
 */
export function fillDiskMidUpload(
  disk: string,
  afterBytes: number,
): { onProgress: (p: { sentBytes: number }) => void; filled: () => boolean } {
  let filled = false;
  return {
    onProgress: (p) => {
      if (filled || p.sentBytes <= afterBytes) return;
      filled = true;
      try {
        writeFileSync(path.join(disk, "filler"), Buffer.alloc(24 * 1024 * 1024));
      } catch {
        // ENOSPC once the disk is full
      }
    },
    filled: () => filled,
  };
}

/**
 * One real sshd for the whole test file (started before its tests, stopped after them), and `open`: what a test
 * opened, closed after it, newest first. Call from the file's top level.
 */
export function sshdForThisFile(): { server: () => Sshd; open: { close(): Promise<void> }[] } {
  let sshd: Sshd | undefined;
  const open: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  return { server: () => sshd as Sshd, open };
}
