// Free space on the remote filesystem: the upload's failure path, the commit's disk-full check, deploy's detail.
import type { SshSession } from "../ssh/session";
import { diskFreeCommand, parseDiskFree } from "./remote-scripts";

/** Free bytes on the filesystem of `remoteDir` (`df`), or undefined when that cannot be learned. */
export async function remoteFreeBytes(session: SshSession, remoteDir: string): Promise<number | undefined> {
  const df = await session.exec(diskFreeCommand(remoteDir)).catch(() => undefined);
  return df ? parseDiskFree(df.stdout) : undefined;
}
