// The OpenSSH client needs the private key in a file: this keeps that copy in a 0700 dir named after the owning
// process, removes it on every ending the process can see (exit, SIGTERM, SIGHUP), and lets the next start remove
// what a SIGKILL left behind.
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export const KEY_DIR_PREFIX = "odapi-sftp-";
/** A dir without an owner pid (written by an older odapi) counts as stale after this long. */
const LEGACY_STALE_MS = 24 * 3600 * 1000;
const FATAL_SIGNALS = ["SIGTERM", "SIGHUP"] as const;

export interface KeyDirEntry {
  name: string;
  mtimeMs: number;
}

/** The names of key dirs whose owner process is gone (pure: liveness and time are passed in). */
export function staleKeyDirs(
  entries: readonly KeyDirEntry[],
  isAlive: (pid: number) => boolean,
  nowMs: number,
): string[] {
  return entries
    .filter((e) => {
      if (!e.name.startsWith(KEY_DIR_PREFIX)) return false;
      const owner = /^odapi-sftp-(\d+)-/.exec(e.name);
      if (owner) return !isAlive(Number(owner[1]));
      return nowMs - e.mtimeMs > LEGACY_STALE_MS;
    })
    .map((e) => e.name);
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** TMPDIR as the process sees it now (jest gives each test file its own process.env, which os.tmpdir() ignores). */
function tempRoot(): string {
  return process.env.TMPDIR || os.tmpdir();
}

/** Removes key dirs under `tmp` left by processes that no longer run; returns the removed paths. */
export function sweepStaleKeyDirs(tmp = tempRoot()): string[] {
  let names: string[];
  try {
    names = readdirSync(tmp).filter((n) => n.startsWith(KEY_DIR_PREFIX));
  } catch {
    return [];
  }
  const entries: KeyDirEntry[] = [];
  for (const name of names) {
    try {
      entries.push({ name, mtimeMs: statSync(path.join(tmp, name)).mtimeMs });
    } catch {
      // gone meanwhile
    }
  }
  const removed: string[] = [];
  for (const name of staleKeyDirs(entries, processAlive, Date.now())) {
    try {
      rmSync(path.join(tmp, name), { recursive: true, force: true });
      removed.push(path.join(tmp, name));
    } catch {
      // another user's dir: not ours to remove
    }
  }
  return removed;
}

const live = new Set<string>();

function removeLive(): void {
  for (const dir of live) rmSync(dir, { recursive: true, force: true });
  live.clear();
}

function onFatalSignal(signal: NodeJS.Signals): void {
  removeLive();
  unhook();
  // Nobody else handles it: end the way the signal would have without our handler.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

let hooked = false;
function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once("exit", removeLive);
  for (const s of FATAL_SIGNALS) process.on(s, onFatalSignal);
}

function unhook(): void {
  if (!hooked) return;
  hooked = false;
  process.removeListener("exit", removeLive);
  for (const s of FATAL_SIGNALS) process.removeListener(s, onFatalSignal);
}

/** A fresh 0700 dir `odapi-sftp-<pid>-XXXXXX`, removed on exit, SIGTERM and SIGHUP until removeKeyDir(). */
export function createKeyDir(): string {
  sweepStaleKeyDirs();
  const dir = mkdtempSync(path.join(tempRoot(), `${KEY_DIR_PREFIX}${process.pid}-`));
  live.add(dir);
  hook();
  return dir;
}

export function removeKeyDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  live.delete(dir);
  if (live.size === 0) unhook();
}
