// What the deploy step ships, reduced to one hash (pure): when it changes, Pulumi re-runs the deploy; when it
// does not, `pulumi up` leaves the host alone.
import { createHash } from "node:crypto";
import type { RenderedFile } from "../serving";

export interface LocalModelFile {
  relPath: string;
  sha256: string;
  size: number;
}

export interface BundleDescription {
  /** serving/ output: configs and scripts exactly as the host gets them. */
  servingFiles: RenderedFile[];
  catalog: string[];
  localFiles: LocalModelFile[];
  version: number;
  gpu: boolean;
  remoteDir: string;
  /** The idle auto-stop (the timer is installed or removed by the deploy); 0/undefined = off. */
  idleStopMinutes?: number;
}

/** Canonical JSON (sorted keys, sorted file lists) so equal bundles hash equally whatever the listing order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function bundleHash(b: BundleDescription): string {
  const byPath = <T extends { path?: string; relPath?: string }>(xs: T[]) =>
    [...xs].sort((x, y) => ((x.path ?? x.relPath ?? "") < (y.path ?? y.relPath ?? "") ? -1 : 1));
  const normalized = {
    servingFiles: byPath(b.servingFiles).map((f) => ({
      path: f.path,
      mode: f.mode,
      sha256: createHash("sha256").update(f.content).digest("hex"),
    })),
    catalog: [...b.catalog].sort(),
    localFiles: byPath(b.localFiles).map((f) => ({ path: f.relPath, sha256: f.sha256, size: f.size })),
    version: b.version,
    gpu: b.gpu,
    remoteDir: b.remoteDir,
    // Left out when off, so stacks without the idle stop keep the hash they had.
    idleStopMinutes: b.idleStopMinutes || undefined,
  };
  return createHash("sha256").update(canonical(normalized)).digest("hex");
}

/** Model names in a local bundle: relPaths are "models/<name>/<version>/…". */
export function localModelNames(files: { relPath: string }[]): string[] {
  const names = new Set<string>();
  for (const f of files) {
    const parts = f.relPath.split("/");
    if (parts[0] === "models" && parts.length >= 4) names.add(parts[1]);
  }
  return [...names].sort();
}
