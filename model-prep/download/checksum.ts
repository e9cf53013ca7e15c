// The archive's sha256: recorded on the first download, checked on every reuse and every new download.
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { OdapiError } from "../../common/errors";
import { sha256File } from "../../common/files";
import type { CachePaths } from "./cache";

/** Checks the archive against the recorded sha256, or records it on first download. */
export async function checkOrRecordSha(paths: CachePaths, fresh: boolean): Promise<string> {
  const sum = await sha256File(paths.archive);
  const recorded = existsSync(paths.sha256File)
    ? (await readFile(paths.sha256File, "utf8")).trim()
    : undefined;
  if (recorded === undefined) {
    await writeFile(paths.sha256File, `${sum}\n`);
    return sum;
  }
  if (recorded !== sum) {
    throw new OdapiError(
      fresh
        ? `the new download in ${paths.dir} (sha256 ${sum}) differs from the one recorded before (${recorded}): the upstream file changed or was tampered with`
        : `the cached archive ${paths.archive} does not match its recorded sha256 (${recorded}); it is corrupt or was changed`,
      fresh
        ? `if the new file is expected, delete ${paths.sha256File} and rerun`
        : "rerun with --refresh to download it again",
      "config",
    );
  }
  return sum;
}
