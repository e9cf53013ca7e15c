// The private test engine: its own socket and data root, containers that survive an engine restart by their
// restart policy, and a clean stop. Skipped, with the reason printed, where no dockerd can run.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import {
  type DockerEngine,
  dockerdArgs,
  engineUnavailableReason,
  startDockerEngine,
} from "../../scripts/harness/docker-engine";
import { makeTempDir, removeDir } from "../helpers/tmp";

test("engineUnavailableReason names what is missing and how to get it", () => {
  expect(engineUnavailableReason({ uid: 1000, dockerd: true, docker: true })).toMatch(/needs root/);
  expect(engineUnavailableReason({ uid: 0, dockerd: false, docker: true })).toMatch(/installs docker\.io/);
  expect(engineUnavailableReason({ uid: 0, dockerd: true, docker: false })).toMatch(/no docker CLI/);
  expect(engineUnavailableReason({ uid: 0, dockerd: true, docker: true })).toBeUndefined();
});

test("dockerdArgs: own dirs and socket, no iptables, no forwarding, no default bridge", () => {
  expect(dockerdArgs({ dataRoot: "/c/e", execRoot: "/r/x", socket: "/r/d.sock", pidFile: "/r/p" })).toEqual([
    "--data-root",
    "/c/e",
    "--exec-root",
    "/r/x",
    "-H",
    "unix:///r/d.sock",
    "--pidfile",
    "/r/p",
    "--iptables=false",
    "--ip-forward=false",
    "--bridge=none",
    "--default-address-pool",
    "base=10.213.0.0/16,size=24",
  ]);
});

const cacheDir = makeTempDir("odapi-engine-cache-");
// Its own subnets: the rehearsal's engine may run at the same time in another jest worker.
const OWN_POOL = "base=10.214.0.0/16,size=24";
const started = startDockerEngine({ cacheDir, addressPool: OWN_POOL });
if ("skipped" in started) removeDir(cacheDir);
if ("skipped" in started) console.warn(`SKIPPED the Docker engine tests: ${started.skipped}`);
const describeEngine = "engine" in started ? describe : describe.skip;

describeEngine("a private dockerd", () => {
  const engine = (started as { engine: DockerEngine }).engine;
  let work: string;

  beforeAll(() => {
    // The smallest image that runs: /bin/sleep and the two libraries it links.
    work = makeTempDir("odapi-engine-img-");
    const root = path.join(work, "root");
    for (const file of ["/bin/sleep", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]) {
      mkdirSync(path.join(root, path.dirname(file)), { recursive: true });
      copyFileSync(file, path.join(root, file));
    }
    const tar = execFileSync("tar", ["-C", root, "-c", "."], { maxBuffer: 64 << 20 });
    engine.docker(["import", "-", "odapi-test/sleep:1"], { input: tar });
  });

  afterAll(async () => {
    await engine.stop();
    if (work) removeDir(work);
    removeDir(cacheDir);
  });

  test("answers on its own socket with its own data root; a second engine on the same cache is refused", () => {
    expect(engine.dockerHost).toMatch(/^unix:\/\/\/tmp\/odapi-engine-[^/]+\/docker\.sock$/);
    expect(engine.docker(["info", "--format", "{{.DockerRootDir}} {{.Driver}}"])).toBe(
      `${path.join(cacheDir, "engine")} overlay2`,
    );
    const second = startDockerEngine({ cacheDir, addressPool: OWN_POOL });
    expect(second).toEqual({ skipped: expect.stringMatching(/another process uses the test engine/) });
  });

  test("a container with a restart policy comes back after an engine restart (a host reboot)", async () => {
    engine.docker(["network", "create", "odapi-test-net"]);
    engine.docker([
      "run",
      "--detach",
      "--name",
      "sleeper",
      "--restart",
      "unless-stopped",
      "--network",
      "odapi-test-net",
      "odapi-test/sleep:1",
      "/bin/sleep",
      "600",
    ]);
    const startedAt = engine.docker(["inspect", "--format", "{{.State.StartedAt}}", "sleeper"]);
    await engine.restart();
    const after = engine.docker(["inspect", "--format", "{{.State.Status}} {{.State.StartedAt}}", "sleeper"]);
    expect(after).toMatch(/^running /);
    expect(after).not.toContain(startedAt);
  });

  test("stop removes the containers, ends dockerd and frees the cache for the next engine", async () => {
    await engine.stop();
    expect(engine.tryDocker(["info"], 10_000).status).not.toBe(0);
    const next = startDockerEngine({ cacheDir, addressPool: OWN_POOL });
    if (!("engine" in next)) throw new Error(`the next engine did not start: ${next.skipped}`);
    try {
      expect(next.engine.docker(["ps", "-aq"])).toBe("");
      expect(next.engine.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"])).toBe(
        "odapi-test/sleep:1",
      );
    } finally {
      await next.engine.stop();
    }
    expect(existsSync(path.join(cacheDir, "engine.lock"))).toBe(false);
  });
});
