// Which bundle each destination last received in full, so that a rerun of the same deploy does not start what only
// an upload needs (the OpenSSH client's login, the SFTP round-trip probe). Only a guess that saves time: the remote
// state read still decides what is sent, and a wrong guess only starts those later.
import { createHash } from "node:crypto";
import path from "node:path";
import type { SshTarget } from "../ssh/target";
import { loadCache, loadCacheSync, odapiCacheDir, saveCache } from "./cache-file";
import type { BundleFile } from "./manifest";

/** Destinations remembered; the oldest are dropped beyond this. */
const MAX_ENTRIES = 200;

interface LastSync {
  digest: string;
  at: number;
}

export function defaultLastSyncFile(): string {
  return path.join(odapiCacheDir(), "last-sync.json");
}

/** One destination: user, address, remote dir and host key — a replaced instance at the same address is another (pure). */
export function destinationKey(
  target: Pick<SshTarget, "host" | "port" | "user" | "hostKey">,
  remoteDir: string,
): string {
  // The key's type and data only: a pinned `--host-key` may carry a comment, the verified one never does.
  const [type = "", data = ""] = (target.hostKey ?? "").trim().split(/\s+/);
  const text = `${target.user}@${target.host}:${target.port}\n${remoteDir.replace(/\/+$/, "")}\n${type} ${data}`;
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}

/** One digest over every file's path, size, mode and sha256, in path order (pure). */
export function bundleDigest(files: readonly BundleFile[]): string {
  const lines = files
    .map((f) => `${f.relPath}\t${f.size}\t${f.mode.toString(8)}\t${f.sha256}`)
    .sort()
    .join("\n");
  return createHash("sha256").update(lines).digest("hex");
}

/** Whether `digest` is what the destination received last (false when unknown or the file is unreadable). */
export function sameAsLastSync(key: string, digest: string, file: string): boolean {
  return loadCacheSync<LastSync>(file)[key]?.digest === digest;
}

/** Remembers that the destination now holds `digest` (best effort, like the hash cache). */
export async function recordLastSync(
  key: string,
  digest: string,
  file: string,
  now = Date.now(),
): Promise<void> {
  const all = await loadCache<LastSync>(file);
  all[key] = { digest, at: now };
  const kept = Object.entries(all)
    .sort((a, b) => b[1].at - a[1].at)
    .slice(0, MAX_ENTRIES);
  await saveCache(file, Object.fromEntries(kept));
}
