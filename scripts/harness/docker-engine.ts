// A private Docker engine for tests and the rehearsal: its own dockerd with its own socket, exec root and data
// root, so a system Docker the user may have is never touched. The data root persists under the cache dir
// (images built once stay there); one engine at a time may use it (a lock dir holding the owner's pid).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";

export const DOCKERD_BINARY = "/usr/sbin/dockerd";
/** Where the engine's data root (and so its images) lives between runs. */
export const REHEARSAL_CACHE_DIR =
  process.env.ODAPI_REHEARSAL_CACHE ?? path.join(os.homedir(), ".cache", "odapi-rehearsal");
/** Private subnets for user networks, away from the default 172.17+ pools a system Docker uses. */
export const ADDRESS_POOL = "base=10.213.0.0/16,size=24";
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

export interface DockerEngine {
  /** unix:///…/docker.sock: what DOCKER_HOST must say for the docker CLI to use this engine. */
  dockerHost: string;
  /** process.env plus DOCKER_HOST. */
  env: NodeJS.ProcessEnv;
  dataRoot: string;
  /** Runs the docker CLI against this engine (bounded); stdout trimmed, throws with stderr on failure. */
  docker(args: string[], opts?: { input?: string | Buffer; timeoutMs?: number }): string;
  /** Like docker() but returns the exit status and output instead of throwing. */
  tryDocker(args: string[], timeoutMs?: number): { status: number | null; stdout: string; stderr: string };
  /** Stops dockerd the way a shutdown does (containers stop) and starts it again: a host reboot. */
  restart(): Promise<void>;
  /** dockerd's log so far. */
  log(): string;
  /** Removes every container and network, stops dockerd, frees the lock. Idempotent. */
  stop(): Promise<void>;
}

export type EngineStart = { engine: DockerEngine } | { skipped: string };

/** Why no engine can run here (pure over what was probed), or undefined. */
export function engineUnavailableReason(probe: {
  uid: number;
  dockerd: boolean;
  docker: boolean;
}): string | undefined {
  if (probe.uid !== 0) return "dockerd needs root (run the tests as root, as CI does)";
  if (!probe.dockerd) return `${DOCKERD_BINARY} is missing: run 'bash .ci/run' (installs docker.io)`;
  if (!probe.docker) return "no docker CLI on PATH: run 'bash .ci/run' (installs docker.io)";
  return undefined;
}

/** dockerd's argv for these dirs (pure): no iptables or forwarding changes on the host, no default bridge. */
export function dockerdArgs(
  dirs: { dataRoot: string; execRoot: string; socket: string; pidFile: string },
  addressPool = ADDRESS_POOL,
): string[] {
  return [
    "--data-root",
    dirs.dataRoot,
    "--exec-root",
    dirs.execRoot,
    "-H",
    `unix://${dirs.socket}`,
    "--pidfile",
    dirs.pidFile,
    "--iptables=false",
    "--ip-forward=false",
    "--bridge=none",
    "--default-address-pool",
    addressPool,
  ];
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Takes dir/lock for this process; a lock whose owner is gone is taken over. */
function takeLock(cacheDir: string): string | undefined {
  const lock = path.join(cacheDir, "engine.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, "pid"), String(process.pid));
      return lock;
    } catch {
      const owner = Number(readFileSync(path.join(lock, "pid"), { encoding: "utf8", flag: "a+" }) || 0);
      if (owner && pidAlive(owner)) return undefined;
      rmSync(lock, { recursive: true, force: true });
    }
  }
  return undefined;
}

/** Blocks this thread: the start is synchronous so a test file can choose describe or describe.skip with it. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Starts the engine, or says why it cannot (never throws for an engine that cannot run here). Synchronous. */
export function startDockerEngine(opts: { cacheDir?: string; addressPool?: string } = {}): EngineStart {
  const reason = engineUnavailableReason({
    uid: process.getuid?.() ?? -1,
    dockerd: existsSync(DOCKERD_BINARY),
    docker: spawnSync("docker", ["--version"]).status === 0,
  });
  if (reason) return { skipped: reason };
  const cacheDir = opts.cacheDir ?? REHEARSAL_CACHE_DIR;
  mkdirSync(cacheDir, { recursive: true });
  const lock = takeLock(cacheDir);
  if (!lock)
    return { skipped: `another process uses the test engine in ${cacheDir} (see ${cacheDir}/engine.lock)` };
  // Short paths: unix socket paths are limited to 108 bytes, and containerd puts its sockets in the exec root.
  const run = mkdtempSync("/tmp/odapi-engine-");
  const dirs = {
    dataRoot: path.join(cacheDir, "engine"),
    execRoot: path.join(run, "x"),
    socket: path.join(run, "docker.sock"),
    pidFile: path.join(run, "dockerd.pid"),
  };
  const logFile = path.join(run, "dockerd.log");
  const env = { ...process.env, DOCKER_HOST: `unix://${dirs.socket}` };
  let child: ChildProcess | undefined;
  let stopped = false;

  const tryDocker = (args: string[], timeoutMs = 120_000) => {
    const r = spawnSync("docker", args, { env, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
    return {
      status: r.status,
      stdout: r.stdout ?? "",
      stderr: `${r.stderr ?? ""}${r.error ? r.error.message : ""}`,
    };
  };
  const docker = (args: string[], o: { input?: string | Buffer; timeoutMs?: number } = {}) => {
    const r = spawnSync("docker", args, {
      env,
      encoding: "utf8",
      input: o.input,
      timeout: o.timeoutMs ?? 120_000,
      maxBuffer: 64 << 20,
    });
    if (r.status !== 0) {
      throw new Error(
        `docker ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}${r.error ?? ""}`,
      );
    }
    return r.stdout.trim();
  };
  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");

  const launch = (): void => {
    const fd = openSync(logFile, "a");
    child = spawn(DOCKERD_BINARY, dockerdArgs(dirs, opts.addressPool), { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    hookExit(child);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(`dockerd exited (${child.exitCode}): ${log().slice(-2000)}`);
      if (tryDocker(["info", "--format", "{{.ServerVersion}}"], 10_000).status === 0) return;
      sleepSync(250);
    }
    throw new Error(`dockerd did not answer within ${START_TIMEOUT_MS / 1000} s: ${log().slice(-2000)}`);
  };

  const halt = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    c.kill("SIGTERM");
    const timer = setTimeout(() => c.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    running.delete(c);
  };

  // Leftovers of a run that crashed would otherwise come back by their restart policy with stale mounts.
  const clean = () => {
    const ids = tryDocker(["ps", "-aq"]).stdout.split("\n").filter(Boolean);
    if (ids.length) tryDocker(["rm", "--force", ...ids]);
    tryDocker(["network", "prune", "--force"]);
  };

  try {
    launch();
    clean();
  } catch (err) {
    child?.kill("SIGKILL");
    rmSync(run, { recursive: true, force: true });
    rmSync(lock, { recursive: true, force: true });
    return { skipped: `dockerd could not start: ${(err as Error).message}` };
  }

  const engine: DockerEngine = {
    dockerHost: env.DOCKER_HOST as string,
    env,
    dataRoot: dirs.dataRoot,
    docker,
    tryDocker,
    log,
    restart: async () => {
      await halt();
      launch();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (child?.exitCode === null) clean();
      await halt();
      rmSync(run, { recursive: true, force: true });
      rmSync(lock, { recursive: true, force: true });
    },
  };
  return { engine };
}

/** dockerd processes not stopped yet: SIGTERM them if the test process exits without stop(). */
const running = new Set<ChildProcess>();
let exitHooked = false;
function hookExit(child: ChildProcess): void {
  running.add(child);
  if (exitHooked) return;
  exitHooked = true;
  process.once("exit", () => {
    for (const c of running) c.kill("SIGTERM");
  });
}
