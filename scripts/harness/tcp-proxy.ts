// A TCP proxy for tests on 127.0.0.1: pass-through, cut the connection after N bytes, a silent peer, or added latency.
import net from "node:net";

export type ProxyMode =
  /** Forward both ways; optionally limit client → server to `bytesPerSecond` (a slow uplink, e.g. to Ctrl-C it). */
  | { kind: "pass"; bytesPerSecond?: number }
  /** Forward, then destroy both sides once `bytes` bytes went client → server in total (across connections). */
  | { kind: "cut"; bytes: number }
  /** Accept TCP and never send anything (an SSH server that never sends its banner). */
  | { kind: "silent" }
  /** Keep every connection open but drop all data both ways from now on (a dead network path, no FIN/RST). */
  | { kind: "blackhole" }
  /** Forward, delivering every chunk `ms` later in each direction (RTT = 2 × ms); fixed per connection when it opens. */
  | { kind: "delay"; ms: number };

/** Bytes a delay line holds before it stops reading its source: a long fat link, not an infinite buffer. */
const DELAY_QUEUE_CAP = 16 * 1024 * 1024;

/** Delivers chunks to `dst` `ms` after they arrived, in order; pauses `src` while too much is in flight. */
function delayLine(src: net.Socket, dst: net.Socket, ms: number): (chunk: Buffer) => void {
  let queued = 0;
  return (chunk) => {
    queued += chunk.length;
    if (queued > DELAY_QUEUE_CAP) src.pause();
    setTimeout(() => {
      queued -= chunk.length;
      if (!dst.destroyed) dst.write(chunk);
      if (queued <= DELAY_QUEUE_CAP / 2 && src.isPaused()) src.resume();
    }, ms);
  };
}

export interface TcpProxy {
  port: number;
  /** Bytes forwarded client → server and server → client so far (all connections). */
  /** cut: a cut has happened; cuts: how many (a test that cuts several times checks each one landed). */
  stats(): { up: number; down: number; connections: number; cut: boolean; cuts: number };
  /** Change behaviour for new data, e.g. switch from "cut" back to "pass" for a rerun. */
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

export async function startTcpProxy(
  target: { host?: string; port: number },
  initial: ProxyMode,
): Promise<TcpProxy> {
  let mode = initial;
  let up = 0;
  let down = 0;
  let connections = 0;
  let cut = false;
  let cuts = 0;
  let throttleStart: number | undefined;
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => s.destroy());
  };

  const server = net.createServer((client) => {
    connections++;
    track(client);
    if (mode.kind === "silent" || mode.kind === "blackhole") {
      client.on("data", () => undefined); // read and ignore, never answer
      return;
    }
    const upstream = net.connect({ host: target.host ?? "127.0.0.1", port: target.port });
    track(upstream);
    // A proxy must not add latency of its own: without this, Nagle + delayed ACKs hold small packets ~40 ms
    // now and then, and a measured round trip (e.g. the upload engine's transport choice) goes wrong.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const killBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    if (mode.kind === "delay") {
      const toServer = delayLine(client, upstream, mode.ms);
      const toClient = delayLine(upstream, client, mode.ms);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      client.on("data", (chunk: Buffer) => {
        up += chunk.length;
        toServer(chunk);
      });
      upstream.on("data", (chunk: Buffer) => {
        down += chunk.length;
        toClient(chunk);
      });
      return;
    }
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("data", (chunk: Buffer) => {
      if (mode.kind === "blackhole") return;
      if (mode.kind === "cut") {
        const room = mode.bytes - up;
        if (room <= 0) {
          cut = true;
          cuts++;
          killBoth();
          return;
        }
        if (chunk.length >= room) {
          up += room;
          upstream.write(chunk.subarray(0, room));
          cut = true;
          cuts++;
          killBoth();
          return;
        }
      }
      up += chunk.length;
      if (!upstream.write(chunk)) client.pause();
      if (mode.kind === "pass" && mode.bytesPerSecond) {
        // Hold reading until the bytes sent so far fit the rate since the first byte.
        throttleStart ??= Date.now();
        const aheadMs = (up * 1000) / mode.bytesPerSecond - (Date.now() - throttleStart);
        if (aheadMs > 5) {
          client.pause();
          setTimeout(() => client.resume(), aheadMs).unref();
        }
      }
    });
    upstream.on("drain", () => client.resume());
    upstream.on("data", (chunk: Buffer) => {
      if (mode.kind === "blackhole") return;
      down += chunk.length;
      if (!client.write(chunk)) upstream.pause();
    });
    client.on("drain", () => upstream.resume());
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });

  return {
    port: (server.address() as net.AddressInfo).port,
    stats: () => ({ up, down, connections, cut, cuts }),
    setMode: (m) => {
      mode = m;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
