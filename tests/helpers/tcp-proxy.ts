// A TCP proxy for tests on 127.0.0.1: pass-through, cut the connection after N bytes, or a silent peer.
import net from "node:net";

export type ProxyMode =
  /** Forward both ways untouched. */
  | { kind: "pass" }
  /** Forward, then destroy both sides once `bytes` bytes went client → server in total (across connections). */
  | { kind: "cut"; bytes: number }
  /** Accept TCP and never send anything (an SSH server that never sends its banner). */
  | { kind: "silent" }
  /** Keep every connection open but drop all data both ways from now on (a dead network path, no FIN/RST). */
  | { kind: "blackhole" };

export interface TcpProxy {
  port: number;
  /** Bytes forwarded client → server and server → client so far (all connections). */
  stats(): { up: number; down: number; connections: number; cut: boolean };
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
    const killBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("data", (chunk: Buffer) => {
      if (mode.kind === "blackhole") return;
      if (mode.kind === "cut") {
        const room = mode.bytes - up;
        if (room <= 0) {
          cut = true;
          killBoth();
          return;
        }
        if (chunk.length >= room) {
          up += room;
          upstream.write(chunk.subarray(0, room));
          cut = true;
          killBoth();
          return;
        }
      }
      up += chunk.length;
      if (!upstream.write(chunk)) client.pause();
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
    stats: () => ({ up, down, connections, cut }),
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
