// A real load balancer on loopback for the rollout rehearsal and replica benchmarks: Debian's HAProxy with active
// HTTP health checks on the gateway's health path, and its runtime socket to drain, remove and re-add a replica
// the way an ASG instance refresh does (deregister, wait for in-flight requests, replace, wait for healthy).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OdapiError } from "../../common/errors";
import { HEALTH_PATH } from "../../serving/constants";
import { stopperOf } from "./child";
import { freeLoopbackPort } from "./host-nginx";

export const HAPROXY = "/usr/sbin/haproxy";
export const BACKEND = "replicas";

export interface HaproxyServer {
  name: string;
  port: number;
}

export interface HaproxyOptions {
  servers: HaproxyServer[];
  /** Milliseconds between health checks of one server; default 200. */
  checkIntervalMs?: number;
  /** Consecutive passed checks before a server takes traffic, failed ones before it is taken out; default 2 each. */
  rise?: number;
  fall?: number;
}

/** The haproxy.cfg text (pure): round robin over the servers, each checked with GET HEALTH_PATH expecting 200. */
export function renderHaproxyConfig(opts: HaproxyOptions & { listenPort: number; socket: string }): string {
  const servers = opts.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check`);
  return `# odapi rollout rehearsal load balancer (rendered by scripts/harness/haproxy.ts)
global
  stats socket ${opts.socket} level admin
  maxconn 2048

defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout check 2s

frontend api
  bind 127.0.0.1:${opts.listenPort}
  default_backend ${BACKEND}

backend ${BACKEND}
  balance roundrobin
  option httpchk
  http-check send meth GET uri ${HEALTH_PATH}
  http-check expect status 200
  default-server inter ${opts.checkIntervalMs ?? 200} rise ${opts.rise ?? 2} fall ${opts.fall ?? 2}
${servers.join("\n")}
`;
}

export interface ServerStat {
  name: string;
  /** UP, DOWN, MAINT, DRAIN, "UP 1/2" (going down) … as HAProxy reports it. */
  status: string;
  /** Requests (sessions) in progress on this server. */
  current: number;
  /** Sessions sent to this server so far. */
  total: number;
}

/** Parses `show stat` CSV into the backend's server rows (pure). */
export function parseShowStat(csv: string): ServerStat[] {
  const lines = csv.trim().split("\n");
  const header = (lines[0] ?? "").replace(/^# /, "").split(",");
  const col = (name: string) => header.indexOf(name);
  return lines
    .slice(1)
    .map((line) => line.split(","))
    .filter((row) => row[col("pxname")] === BACKEND && !["BACKEND", "FRONTEND"].includes(row[col("svname")]))
    .map((row) => ({
      name: row[col("svname")],
      status: row[col("status")],
      current: Number(row[col("scur")]),
      total: Number(row[col("stot")]),
    }));
}

export interface Haproxy {
  port: number;
  /** One runtime API command; returns its answer. */
  command(line: string): Promise<string>;
  stats(): Promise<ServerStat[]>;
  /** Waits (bounded) until `server` reports a status matching `status`. */
  waitForStatus(server: string, status: RegExp, deadlineMs: number): Promise<void>;
  /** Like an instance refresh's deregistration: no new requests, then waits until its in-flight ones finished. */
  drain(server: string, deadlineMs: number): Promise<void>;
  /** Ends a drain: a server its checks found DOWN (its replacement still loading) takes traffic after `rise` passes. */
  undrain(server: string): Promise<void>;
  log(): string;
  stop(): Promise<void>;
}

async function pollUntil(what: string, fn: () => Promise<boolean>, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (let delay = 20; ; delay = Math.min(delay * 2, 200)) {
    if (await fn()) return;
    if (Date.now() > end)
      throw new OdapiError(`${what}: not within ${deadlineMs} ms`, "read HAProxy's log", "failure");
    await new Promise((r) => setTimeout(r, delay));
  }
}

function runtimeCommand(socket: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = "";
    const conn = net.connect(socket, () => conn.end(`${line}\n`));
    conn.setEncoding("utf8");
    conn.setTimeout(5000, () => conn.destroy(new Error(`HAProxy runtime API did not answer "${line}"`)));
    conn.on("data", (c) => {
      answer += c;
    });
    conn.on("end", () => resolve(answer));
    conn.on("error", reject);
  });
}

/** Starts HAProxy in the foreground on a free loopback port. */
export async function startHaproxy(opts: HaproxyOptions): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), "odapi-haproxy-"));
  const socket = join(dir, "admin.sock");
  const port = await freeLoopbackPort();
  const config = join(dir, "haproxy.cfg");
  writeFileSync(config, renderHaproxyConfig({ ...opts, listenPort: port, socket }));
  let stderr = "";
  const child: ChildProcess = spawn(HAPROXY, ["-db", "-f", config], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.on("data", (c) => {
    stderr += c;
  });
  child.stderr?.on("data", (c) => {
    stderr += c;
  });
  child.on("error", (err) => {
    stderr += `cannot run ${HAPROXY}: ${err.message} (apt-get install haproxy)\n`;
  });
  const stop = stopperOf(child, dir);
  const command = (line: string) => runtimeCommand(socket, line);
  const stats = async () => parseShowStat(await command("show stat"));
  const statOf = async (server: string) => (await stats()).find((s) => s.name === server);
  const lb: Haproxy = {
    port,
    command,
    stats,
    waitForStatus: (server, status, deadlineMs) =>
      pollUntil(
        `HAProxy server ${server} to be ${status}`,
        async () => status.test((await statOf(server))?.status ?? ""),
        deadlineMs,
      ),
    drain: async (server, deadlineMs) => {
      await command(`set server ${BACKEND}/${server} state drain`);
      await pollUntil(
        `in-flight requests on ${server} to finish`,
        async () => (await statOf(server))?.current === 0,
        deadlineMs,
      );
    },
    // Drain, not maintenance: a drained server keeps being checked, while leaving maintenance counts it up at once.
    undrain: async (server) => {
      await command(`set server ${BACKEND}/${server} state ready`);
    },
    log: () => stderr,
    stop,
  };
  try {
    await pollUntil(
      `HAProxy to listen on 127.0.0.1:${port}`,
      async () => {
        if (child.exitCode !== null)
          throw new OdapiError(`HAProxy exited: ${stderr.trim()}`, "read its message", "failure");
        return (await stats().catch(() => [])).length === opts.servers.length;
      },
      10_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return lb;
}
