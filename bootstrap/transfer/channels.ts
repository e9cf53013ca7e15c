// The SFTP channels of an upload, and the work started before the plan is known: the first channel and the
// round trip, the OpenSSH client's login, and (on a slow link) the extra channels, so that none of their round
// trips stand between the plan and the first byte.
import type { SFTPWrapper } from "ssh2";
import type { SshSession, SshTarget } from "../ssh/session";
import { bundleDigest, defaultLastSyncFile, destinationKey, sameAsLastSync } from "./last-sync";
import type { BundleFile } from "./manifest";
import type { Transport } from "./openssh-batch";
import type { OpenSshSftp } from "./openssh-sftp";
import { channelCountOf, chooseParallelism, dirLevels } from "./ranges";
import { startOpenSsh } from "./transports";
import { measureRttMs } from "./uploader";

/** Channels opened before the plan: few enough that the lock, the commit and a command still get a session
 * each under OpenSSH's default MaxSessions 10 (the rest open after the plan, as before). */
export const EARLY_CHANNELS_MAX = 6;

export interface Probe {
  sftp: SFTPWrapper;
  rttMs: number;
}

/** What an upload starts before it knows what to send; handed to syncBundle, which owns and closes it. Reading
 * `probe`, `extra` or `openssh` starts that part if the guess (see last-sync.ts) had held it back. */
export interface EarlyStart {
  readonly probe: Promise<Probe | undefined>;
  /** Extra SFTP channels opening as soon as the round trip says several are needed (possibly none): how many
   * were asked for is known with the probe; the channels themselves arrive later. */
  readonly extra: Promise<EarlyChannels>;
  readonly openssh: OpenSshSftp | undefined;
  /** Ends whatever was started and not handed over (idempotent). */
  close(): Promise<void>;
  /** syncBundle calls this when it hands the channels to the sender, which closes them itself. */
  handOver(): void;
}

export interface EarlyChannels {
  asked: number;
  channels: Promise<SFTPWrapper[]>;
}

export interface EarlyOptions {
  files: readonly BundleFile[];
  remoteDir: string;
  parallel?: number | "auto";
  transport?: Transport;
  sftpBinary?: string;
  log?: (line: string) => void;
  /** Where the last bundle sent to each destination is recorded (last-sync.ts); false: no guess, start all. */
  lastSyncFile?: string | false;
  /** While the session is still connecting: the target, whose pinned host key lets the OpenSSH client log in
   * alongside (it trusts only that key). */
  target?: SshTarget;
}

/** Whether the destination holds this bundle already as far as this machine knows (last-sync.ts). */
export function expectUnchanged(target: SshTarget, opts: EarlyOptions): boolean {
  if (opts.lastSyncFile === false) return false;
  const key = destinationKey(target, opts.remoteDir);
  return sameAsLastSync(key, bundleDigest(opts.files), opts.lastSyncFile ?? defaultLastSyncFile());
}

/**
 * The first SFTP channel and the round trip (one request: a slow link shows in one sample; a fast one takes
 * the best of three), then, when the local bundle's size at that round trip wants several channels, up to
 * EARLY_CHANNELS_MAX of them; and the OpenSSH client's connection — started before the ssh2 connection is up
 * when the host key is pinned. All of it overlaps the remote state read. When the destination received this
 * very bundle last time (a rerun, most likely a no-op), none of it starts until syncBundle asks for it.
 */
export function startEarly(connection: SshSession | Promise<SshSession>, opts: EarlyOptions): EarlyStart {
  const remoteDir = opts.remoteDir.replace(/\/+$/, "");
  const wanted = channelCountOf(opts.parallel);
  const sessionReady = Promise.resolve(connection);
  let target = "then" in connection ? opts.target : connection.target;
  let closed = false;
  let handedOver = false;

  let session: SshSession | undefined = "then" in connection ? undefined : connection;
  let openssh: OpenSshSftp | undefined;
  let opensshTried = false;
  let opensshError: unknown;
  /** The client started before the session was up could not log in (e.g. a fresh host still refusing). */
  let failedBeforeSession = false;
  const startClient = (t: SshTarget) => {
    if (opensshTried || closed) return;
    opensshTried = true;
    try {
      openssh = startOpenSsh(t, opts, remoteDir);
      if (!session)
        openssh?.ready.catch(() => {
          if (!session) failedBeforeSession = true;
        });
    } catch (err) {
      opensshError = err; // thrown where the client is asked for: only an upload needs it
    }
  };

  let probe: Promise<Probe | undefined> | undefined;
  let extra: Promise<EarlyChannels> | undefined;
  const startChannels = () => {
    if (probe) return { probe, extra: extra as Promise<EarlyChannels> };
    const p: Promise<Probe | undefined> = sessionReady
      .then((s) => s.sftp())
      .then(async (sftp) => ({ sftp, rttMs: await measureRttMs(sftp) }))
      .catch(() => undefined);
    const localBytes = opts.files.reduce((n, f) => n + f.size, 0);
    const e = p.then((pr): EarlyChannels => {
      const count = pr ? (wanted ?? chooseParallelism(pr.rttMs, localBytes, opts.files.length)) : 1;
      const asked = Math.min(count, EARLY_CHANNELS_MAX) - 1;
      return {
        asked,
        channels:
          asked > 0 ? sessionReady.then((s) => openChannels(s, asked)).catch(() => []) : Promise.resolve([]),
      };
    });
    probe = p;
    extra = e;
    return { probe: p, extra: e };
  };

  const begin = (t: SshTarget) => {
    if (expectUnchanged(t, opts)) {
      opts.log?.(
        "this bundle was sent here last time: nothing is started for an upload until the remote state asks",
      );
      return;
    }
    startClient(t);
    startChannels();
  };
  if (target?.hostKey) begin(target);
  void sessionReady.then(
    (s) => {
      const waited = !target?.hostKey;
      session = s;
      target = s.target;
      if (failedBeforeSession) {
        // The ssh2 connect retried until the host answered; the client gets the same second chance.
        void openssh?.close();
        openssh = undefined;
        opensshTried = false;
        startClient(s.target);
      }
      if (waited) begin(s.target);
    },
    () => undefined,
  );

  return {
    get probe() {
      return startChannels().probe;
    },
    get extra() {
      return startChannels().extra;
    },
    get openssh() {
      if (target?.hostKey) startClient(target);
      if (opensshError) throw opensshError;
      return openssh;
    },
    handOver: () => {
      handedOver = true;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      if (!handedOver && probe) {
        void probe.then((p) => p?.sftp.end());
        void extra?.then(async (e) => {
          for (const ch of await e.channels) ch.end();
        });
      }
      await openssh?.close();
    },
  };
}

/** Opens up to `count` SFTP channels in parallel; the server may cap sessions per connection (MaxSessions,
 * 10 by default): use what it granted. */
export async function openChannels(session: SshSession, count: number): Promise<SFTPWrapper[]> {
  if (count <= 0) return [];
  const settled = await Promise.allSettled(Array.from({ length: count }, () => session.sftp()));
  const ok = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  if (ok.length === 0) throw (settled[0] as PromiseRejectedResult).reason;
  return ok;
}

/** Creates the upload dirs over SFTP (no remote shell start): ancestors first, each depth in parallel; existing dirs are fine. */
export async function makeDirs(sftp: SFTPWrapper, remoteDir: string, dirs: string[]): Promise<void> {
  // One round trip: sftp-server handles a channel's requests in order, so parents exist before their children.
  // An error here (e.g. "exists") is ignored; a real problem resurfaces as a clear open() error.
  await Promise.all(
    dirLevels(dirs)
      .flat()
      .map((d) => new Promise<void>((resolve) => sftp.mkdir(`${remoteDir}/${d}`, () => resolve()))),
  );
}
