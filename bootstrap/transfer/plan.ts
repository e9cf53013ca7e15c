// The sync decisions (pure): what the remote already has, what to hash, link, send, verify and rename.
import type { BundleFile, Manifest, ManifestEntry } from "./manifest";
import {
  isTransientPath,
  parentDir,
  retiredDir,
  stagedPathOf,
  stagingDir,
  type VersionRef,
  versionDir,
  versionOf,
} from "./paths";
import { type ByteRange, blockSizeFor, rangeBytes, rangesToResend } from "./ranges";
import type { HashRequest, HashResults, Op, RemoteFileStat } from "./remote-scripts";

export interface RemoteView {
  files: Map<string, RemoteFileStat>;
  manifest: Manifest;
}

/** The remote hash of a path when it can be believed: the manifest's, if size and mtime still match. */
export function trustedHash(view: RemoteView, relPath: string): string | undefined {
  const st = view.files.get(relPath);
  const m = view.manifest.files[relPath];
  return st && m && m.size === st.size && m.mtime === st.mtime ? m.sha256 : undefined;
}

function sameContent(
  view: RemoteView,
  hashes: HashResults | undefined,
  relPath: string,
  f: BundleFile,
): boolean {
  const st = view.files.get(relPath);
  if (!st || st.size !== f.size) return false;
  return (trustedHash(view, relPath) ?? hashes?.full.get(relPath)) === f.sha256;
}

/**
 * What must be hashed remotely before planning (the manifest is checked, not trusted):
 * live files of the right size whose size/mtime no longer match the manifest, and leftover staged files
 * (per block, to resume them). A no-op rerun with an intact manifest asks for nothing.
 */
export function hashRequestsFor(files: readonly BundleFile[], view: RemoteView): HashRequest[] {
  const reqs: HashRequest[] = [];
  for (const f of files) {
    const st = view.files.get(f.relPath);
    const trusted = trustedHash(view, f.relPath);
    if (st && st.size === f.size && trusted === undefined) reqs.push({ kind: "full", path: f.relPath });
    if (trusted === f.sha256 && st?.size === f.size) continue;
    const staged = stagedPathOf(f.relPath);
    const sst = view.files.get(staged);
    // A staged file with other links came from `ln`: relinking is free, hashing it is not.
    if (sst && sst.nlink === 1 && sst.size > 0) {
      reqs.push({ kind: "blocks", path: staged, blockSize: blockSizeFor(f.size) });
    }
  }
  return reqs;
}

export interface UploadItem {
  file: BundleFile;
  /** Relative to the remote dir: always a staged path, never a live one. */
  remotePath: string;
  ranges: ByteRange[];
}

export interface Plan {
  /** Before any byte is sent: links from identical remote content, removal of unusable leftovers. */
  prepare: Op[];
  /** Dirs the uploads write into (created over SFTP, no remote shell needed). */
  dirs: string[];
  uploads: UploadItem[];
  /** Every file placed in a staged path this run (sent, resumed, linked): all are hashed before any rename. */
  verify: { file: BundleFile; remotePath: string }[];
  /** After verification: modes, renames into place, cleanup. */
  finalize: Op[];
  skipped: BundleFile[];
  /** Manifest entries that stay valid (skipped files, untouched remote files); placed files are added after verify. */
  kept: Record<string, ManifestEntry>;
  sendBytes: number;
  /**
   * Version dirs on the host of the bundle's models that the bundle does not have (`models/ssd/3`), and whether
   * each outranks every bundled version of its model (TF Serving's `latest` policy then keeps serving it).
   * Removed in the commit when planned with `prune`, else left alone.
   */
  stale: { dir: string; outranks: boolean }[];
  /** Whether `stale` is removed by this plan. */
  prune: boolean;
}

export interface PlanOptions {
  /** Remove version dirs of the bundle's models that the bundle does not have (after the new ones are in place). */
  prune?: boolean;
}

/**
 * Index of remote content by sha256, size and mode (only believed hashes, never in-progress paths): hard-link
 * sources. The mode is part of the key because a link shares the inode: setting the new file's mode would
 * change the live file's too.
 */
function contentIndex(view: RemoteView, hashes: HashResults | undefined): Map<string, string> {
  const index = new Map<string, string>();
  for (const [p, st] of view.files) {
    if (isTransientPath(p)) continue;
    const h =
      trustedHash(view, p) ?? (hashes?.stats.get(p)?.size === st.size ? hashes?.full.get(p) : undefined);
    const key = contentKey(h ?? "", st.size, st.mode);
    if (h && !index.has(key)) index.set(key, p);
  }
  return index;
}

const contentKey = (sha256: string, size: number, mode: number): string =>
  `${sha256}:${size}:${mode & 0o7777}`;

/** Numeric version dirs on the host of the bundle's models that the bundle lacks (pure). */
function staleVersions(
  view: RemoteView,
  bundled: Map<string, Set<string>>,
): { dir: string; outranks: boolean }[] {
  const found = new Set<string>();
  for (const p of view.files.keys()) {
    const v = versionOf(p);
    if (v && bundled.get(v.model) && !bundled.get(v.model)?.has(v.version)) found.add(versionDir(v));
  }
  return [...found].sort().map((dir) => {
    const [, model, version] = dir.split("/") as [string, string, string];
    const newest = Math.max(...[...(bundled.get(model) ?? [])].map(Number));
    return { dir, outranks: Number(version) > newest };
  });
}

export function planSync(
  files: readonly BundleFile[],
  view: RemoteView,
  hashes?: HashResults,
  /** Local per-block sha256 of files whose staged copy has remote block hashes (key: relPath). */
  localBlocks: Map<string, string[]> = new Map(),
  opts: PlanOptions = {},
): Plan {
  const plan: Plan = {
    prepare: [],
    dirs: [],
    uploads: [],
    verify: [],
    finalize: [],
    skipped: [],
    kept: {},
    sendBytes: 0,
    stale: [],
    prune: opts.prune === true,
  };
  const index = contentIndex(view, hashes);
  const dirsToMake = new Set<string>();
  const replacedPrefixes: string[] = [];
  const placedFinal = new Set<string>();

  const place = (f: BundleFile): string => {
    const staged = stagedPathOf(f.relPath);
    const sst = view.files.get(staged);
    const remoteBlocks = hashes?.blocks.get(staged);
    const local = localBlocks.get(f.relPath);
    if (sst && sst.nlink === 1 && remoteBlocks && local) {
      const ranges = rangesToResend(f.size, blockSizeFor(f.size), local, remoteBlocks);
      if (sst.size > f.size) plan.prepare.push({ op: "trunc", size: f.size, path: staged });
      if (ranges.length > 0) plan.uploads.push({ file: f, remotePath: staged, ranges });
    } else {
      if (sst) plan.prepare.push({ op: "rm", path: staged });
      const source = index.get(contentKey(f.sha256, f.size, f.mode));
      if (source && f.size > 0) plan.prepare.push({ op: "ln", from: source, to: staged });
      else {
        dirsToMake.add(parentDir(staged));
        plan.uploads.push({ file: f, remotePath: staged, ranges: [{ start: 0, end: f.size }] });
      }
    }
    plan.verify.push({ file: f, remotePath: staged });
    placedFinal.add(f.relPath);
    return staged;
  };

  const versions = new Map<string, { ref: VersionRef; files: BundleFile[] }>();
  const singles: BundleFile[] = [];
  for (const f of files) {
    const v = versionOf(f.relPath);
    if (!v) {
      singles.push(f);
      continue;
    }
    const key = versionDir(v);
    const group = versions.get(key) ?? { ref: v, files: [] };
    group.files.push(f);
    versions.set(key, group);
  }

  for (const [live, { ref, files: group }] of versions) {
    const staging = stagingDir(ref);
    const remoteLive = [...view.files.keys()].filter((p) => p.startsWith(`${live}/`));
    const unchanged =
      remoteLive.length === group.length && group.every((f) => sameContent(view, hashes, f.relPath, f));
    const leftovers = [...view.files.keys()].filter((p) => p.startsWith(`${staging}/`));
    if (unchanged) {
      plan.skipped.push(...group);
      if (leftovers.length > 0) plan.finalize.push({ op: "rmrf", path: staging });
      continue;
    }
    const expected = new Set(group.map((f) => stagedPathOf(f.relPath)));
    for (const p of leftovers) if (!expected.has(p)) plan.prepare.push({ op: "rm", path: p });
    // A live dir with other content is replaced as a whole: its old entries leave the manifest.
    if (remoteLive.length > 0) replacedPrefixes.push(`${live}/`);
    for (const f of group) {
      const staged = place(f);
      plan.finalize.push({ op: "chmod", mode: f.mode, path: staged });
    }
    plan.finalize.push({ op: "swap", staging, live, retired: retiredDir(ref) });
  }

  for (const f of singles) {
    const staged = stagedPathOf(f.relPath);
    if (sameContent(view, hashes, f.relPath, f)) {
      plan.skipped.push(f);
      const st = view.files.get(f.relPath);
      if (st && st.mode !== f.mode) plan.finalize.push({ op: "chmod", mode: f.mode, path: f.relPath });
      if (view.files.has(staged)) plan.finalize.push({ op: "rm", path: staged });
      continue;
    }
    place(f);
    plan.finalize.push(
      { op: "chmod", mode: f.mode, path: staged },
      { op: "mv", from: staged, to: f.relPath },
    );
  }

  const bundled = new Map<string, Set<string>>();
  for (const { ref } of versions.values()) {
    bundled.set(ref.model, (bundled.get(ref.model) ?? new Set()).add(ref.version));
  }
  plan.stale = staleVersions(view, bundled);
  if (plan.prune) {
    // Last: the new versions are in place before TF Serving sees an old one go.
    for (const { dir } of plan.stale) {
      plan.finalize.push({ op: "rmrf", path: dir });
      replacedPrefixes.push(`${dir}/`);
    }
  }

  plan.dirs = [...dirsToMake].sort();
  plan.sendBytes = plan.uploads.reduce((sum, u) => sum + rangeBytes(u.ranges), 0);

  for (const [p, st] of view.files) {
    if (isTransientPath(p) || placedFinal.has(p) || replacedPrefixes.some((pre) => p.startsWith(pre)))
      continue;
    const h =
      trustedHash(view, p) ?? (hashes?.stats.get(p)?.size === st.size ? hashes?.full.get(p) : undefined);
    if (h) plan.kept[p] = { sha256: h, size: st.size, mtime: st.mtime };
  }
  return plan;
}
