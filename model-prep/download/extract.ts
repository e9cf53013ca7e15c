// Extraction of the downloaded tar.gz into the SavedModel prepare.py reads, never leaving a half-extracted model.
import { execFile } from "node:child_process";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { OdapiError } from "../../common/errors";
import type { CachePaths } from "./cache";

/** `tar -xzf ARCHIVE -C DEST` as argv. */
export function tarExtractArgv(archive: string, dest: string): string[] {
  return ["tar", "-xzf", archive, "-C", dest];
}

/** Breadth-first: the shallowest dir under `root` holding saved_model.pb (archives nest it differently). */
export async function findSavedModelDir(root: string): Promise<string | undefined> {
  let level = [root];
  while (level.length > 0) {
    const next: string[] = [];
    for (const dir of level.sort()) {
      const entries = await readdir(dir, { withFileTypes: true });
      if (entries.some((e) => e.isFile() && e.name === "saved_model.pb")) return dir;
      for (const e of entries) if (e.isDirectory()) next.push(path.join(dir, e.name));
    }
    level = next;
  }
  return undefined;
}

async function runTar(argv: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    execFile(argv[0], argv.slice(1), (err, _out, stderr) => {
      if (!err) return resolve();
      reject(
        new OdapiError(
          `extracting ${argv[2]} failed: ${stderr.trim() || err.message}`,
          "rerun with --refresh to download the archive again",
          (err as NodeJS.ErrnoException).code === "ENOENT" ? "missingTool" : "config",
        ),
      );
    }),
  );
}

/** Extracts into a temp dir and renames the SavedModel into place, then records which archive it came from. */
export async function extract(paths: CachePaths, sha256: string): Promise<void> {
  const tmp = path.join(paths.dir, `extract.${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    await runTar(tarExtractArgv(paths.archive, tmp));
    const found = await findSavedModelDir(tmp);
    if (!found) {
      throw new OdapiError(
        `the archive ${paths.archive} holds no saved_model.pb`,
        "check the catalog URL; a TF2 detector archive has a SavedModel inside",
        "config",
      );
    }
    await rm(paths.extractedFrom, { force: true });
    await rm(paths.savedModel, { recursive: true, force: true });
    await rename(found, paths.savedModel);
    await writeFile(paths.extractedFrom, `${sha256}\n`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
