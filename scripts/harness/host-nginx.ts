// Runs the rendered gateway config with this machine's nginx on 127.0.0.1 (tests and the gateway benchmark).
// Deployed hosts run the same config in the pinned nginx container instead (see docker-args.ts).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OdapiError } from "../../common/errors";
import {
  type GatewayLimits,
  type GatewayParams,
  type GatewayTlsFiles,
  renderGatewayConfig,
} from "../../serving/gateway";
import { stopperOf } from "./child";

export const HOST_NGINX = "/usr/sbin/nginx";

export interface HostGateway {
  port: number;
  dir: string;
  /** nginx's master process (its workers are its children). */
  pid: number;
  /** nginx's stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Gateway parameters for a root-run nginx on loopback, everything in `dir` (pure). */
export function hostGatewayParams(
  dir: string,
  opts: {
    apiKey: string;
    listenPort: number;
    upstream: string;
    maxBodyBytes: number;
    resolver?: string;
    resolverValidSeconds?: number;
    limits?: Partial<GatewayLimits>;
    tls?: GatewayTlsFiles;
    workerProcesses?: number | "auto";
    /** The models /healthz checks; default none. */
    models?: string[];
    trustedProxyCidrs?: string[];
  },
): GatewayParams {
  return {
    apiKey: opts.apiKey,
    listen: `127.0.0.1:${opts.listenPort}`,
    upstream: opts.upstream,
    resolver: opts.resolver,
    resolverValidSeconds: opts.resolverValidSeconds,
    maxBodyBytes: opts.maxBodyBytes,
    // As root, nginx's default worker user (nobody) could not write the private temp dir.
    user: "root",
    pidFile: join(dir, "nginx.pid"),
    tempDir: dir,
    accessLog: "off",
    workerProcesses: opts.workerProcesses ?? 1,
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.tls ? { tls: opts.tls } : {}),
    models: opts.models ?? [],
    ...(opts.trustedProxyCidrs ? { trustedProxyCidrs: opts.trustedProxyCidrs } : {}),
  };
}

/** `nginx -t` on a config text; returns nginx's verdict. */
export function nginxCheck(config: string, dir: string): { ok: boolean; output: string } {
  const file = join(dir, "nginx-check.conf");
  writeFileSync(file, config, { mode: 0o600 });
  const r = spawnSync(HOST_NGINX, ["-t", "-q", "-c", file, "-p", dir, "-e", "stderr"], { encoding: "utf8" });
  if (r.error)
    throw new OdapiError(
      `cannot run ${HOST_NGINX}: ${r.error.message}`,
      "install nginx (apt-get install nginx-light)",
      "missingTool",
    );
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

export async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(
  port: number,
  child: ChildProcess,
  deadlineMs: number,
  log: () => string,
): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (let delay = 20; ; delay = Math.min(delay * 2, 200)) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (ok) return;
    if (child.exitCode !== null || child.pid === undefined || Date.now() > end) {
      throw new OdapiError(
        `nginx did not listen on 127.0.0.1:${port}: ${log().trim()}`,
        "read nginx's message",
        "failure",
      );
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Starts nginx in the foreground with a freshly rendered gateway config in a temp dir. */
export async function startHostGateway(opts: {
  apiKey: string;
  upstream: string;
  maxBodyBytes: number;
  resolver?: string;
  resolverValidSeconds?: number;
  limits?: Partial<GatewayLimits>;
  /** Certificate chain and key files: the port speaks only TLS. */
  tls?: GatewayTlsFiles;
  /** Default 1; the container runs "auto" (one per CPU). */
  workerProcesses?: number | "auto";
  models?: string[];
  /** Proxies whose X-Forwarded-For names the client (127.0.0.1 in tests). */
  trustedProxyCidrs?: string[];
  /** Default a free one; a replacement replica takes its predecessor's port. */
  port?: number;
}): Promise<HostGateway> {
  const dir = mkdtempSync(join(tmpdir(), "odapi-gateway-"));
  const port = opts.port ?? (await freeLoopbackPort());
  const config = join(dir, "nginx.conf");
  const params = hostGatewayParams(dir, { ...opts, listenPort: port });
  writeFileSync(config, renderGatewayConfig(params), { mode: 0o600 });
  let stderr = "";
  const child = spawn(HOST_NGINX, ["-c", config, "-p", dir, "-e", "stderr", "-g", "daemon off;"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr?.on("data", (c) => {
    stderr += c;
  });
  child.on("error", (err) => {
    stderr += `cannot run ${HOST_NGINX}: ${err.message}\n`;
  });
  const stop = stopperOf(child, dir);
  try {
    await waitForPort(port, child, 10_000, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, dir, pid: child.pid ?? 0, log: () => stderr, stop };
}
