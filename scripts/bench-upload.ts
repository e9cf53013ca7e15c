// Upload benchmark (npm run bench:upload): `odapi deploy --no-start` vs `scp -r` vs `rsync -a` on a ~200 MB model
// set, each timed as a whole process (spawned; node's start-up included), first upload and no-op rerun, over
// loopback, an 80 ms round trip (delay proxy) and a 100 Mbit/s tc-tbf veth link. Tools take turns within each
// round (load from other processes hits all alike); the table shows medians over the rounds. Usage:
//   npm run bench:upload -- [--scenarios loopback,rtt80,tbf] [--rounds 5] [--slow-rounds 3]
//                           [--odapi "node bin/odapi.cjs"] [--as-current-user]
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import Table from "cli-table3";
import { connect } from "../bootstrap/ssh/session";
import { median } from "../common/stats";
import { arg } from "./harness/argv";
import { bannerSeen, startSshd } from "./harness/sshd";
import { startTcpProxy } from "./harness/tcp-proxy";
import { benchLoginUser, type LoginUser } from "./harness/users";

const DATA_DIR = path.join(os.tmpdir(), "odapi-bench-upload-data");
/** Five files like a real detection SavedModel, 201.2 MB in total (design.md's measured set). */
const FILES: Record<string, number> = {
  "bench/1/variables/variables.data-00000-of-00002": 150_000_000,
  "bench/1/variables/variables.data-00001-of-00002": 40_000_000,
  "bench/1/saved_model.pb": 8_000_000,
  "bench/1/assets.extra/tf_serving_warmup_requests": 3_000_000,
  "bench/1/variables/variables.index": 200_000,
};
const TOTAL = Object.values(FILES).reduce((a, b) => a + b, 0);
const LINK_MBIT = 100;
const NS = `odapi-bench-${process.pid}`;
const VETH_HOST = `odbh${process.pid % 100000}`;
const VETH_NS = `odbn${process.pid % 100000}`;
const HOST_IP = "10.213.0.1";
const NS_IP = "10.213.0.2";
const NS_PORT = 2222;
const REPO = path.resolve(__dirname, "..");

/** Random model files, generated once and reused (random so that no compression can cheat). */
function ensureData(): string {
  const models = path.join(DATA_DIR, "models");
  for (const [rel, size] of Object.entries(FILES)) {
    const file = path.join(models, rel);
    if (existsSync(file) && statSync(file).size === size) continue;
    mkdirSync(path.dirname(file), { recursive: true });
    const fd = openSync(file, "w");
    for (let left = size; left > 0; left -= 1 << 20) writeSync(fd, randomBytes(Math.min(left, 1 << 20)));
    closeSync(fd);
  }
  return models;
}

async function secondsAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

interface Endpoint {
  name: string;
  host: string;
  port: number;
  user: string;
}

interface Row {
  tool: string;
  first: number[];
  noop: number[];
  detail?: string;
}

/** ssh options for scp/rsync: the throwaway key, host key checked against a known_hosts written here. */
function sshOptions(keyPath: string, knownHosts: string): string[] {
  return [
    "-i",
    keyPath,
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "LogLevel=ERROR",
  ];
}

/** Runs a whole process without blocking the event loop (the delay proxy lives in this process); its stdout. */
function runAsync(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: REPO });
    let out = "";
    let err = "";
    child.stdout?.on("data", (d) => {
      out += d.toString();
    });
    child.stderr?.on("data", (d) => {
      err += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} failed (${code}): ${err.trim()}`)),
    );
  });
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr?.toString().trim()}`);
}

/** One tool as a whole process: a first upload into an empty dir, then the same command again (no-op rerun). */
interface Tool {
  name: string;
  run(dest: string): Promise<string | undefined>;
  detail?: string;
}

interface BenchSetup {
  models: string;
  work: string;
  keyPath: string;
  hostKey: string;
  knownHosts: string;
  /** The odapi command line, e.g. ["node", "bin/odapi.cjs"]. */
  odapi: string[];
  owner: LoginUser | undefined;
}

/** The `odapi deploy` argv for one endpoint and remote dir: upload only (no Docker here), pinned host key. */
function odapiDeployArgv(ep: Endpoint, setup: BenchSetup, dest: string, transport: string): string[] {
  return [
    ...setup.odapi.slice(1),
    "deploy",
    "--host",
    ep.host,
    "--port",
    String(ep.port),
    "--user",
    ep.user,
    "--key",
    setup.keyPath,
    "--host-key",
    setup.hostKey,
    "--models",
    setup.models,
    "--remote-dir",
    dest,
    "--no-start",
    "--transport",
    transport,
    "--json",
  ];
}

/**
 * `rounds` rounds of every tool in turn (so a burst of load from other processes hits all tools alike); each
 * round: a first upload into an empty dir, then one no-op rerun (the same command again). Medians are reported.
 */
async function benchEndpoint(
  ep: Endpoint,
  setup: BenchSetup,
  rounds: number,
  /** Also measure `--transport ssh2` (node's own SSH for every byte). */
  ssh2Row: boolean,
): Promise<Row[]> {
  const ssh = sshOptions(setup.keyPath, setup.knownHosts);
  const remote = (d: string) => `${ep.user}@${ep.host}:${d}/`;
  const odapi = (transport: "auto" | "ssh2"): Tool => ({
    name: `odapi deploy${transport === "auto" ? "" : " --transport ssh2"}`,
    run: async (d) => {
      await runAsync(setup.odapi[0] as string, odapiDeployArgv(ep, setup, d, transport));
      return undefined;
    },
  });
  const tools: Tool[] = [
    {
      name: "scp -r",
      detail: "rerun copies everything again",
      run: async (d) => {
        await runAsync("scp", ["-r", "-q", "-P", String(ep.port), ...ssh, setup.models, remote(d)]);
        return undefined;
      },
    },
    {
      name: "rsync -a",
      run: async (d) => {
        await runAsync("rsync", ["-a", "-e", `ssh -p ${ep.port} ${ssh.join(" ")}`, setup.models, remote(d)]);
        return undefined;
      },
    },
    odapi("auto"),
    ...(ssh2Row ? [odapi("ssh2")] : []),
  ];
  const rows: Row[] = tools.map((t) => ({ tool: t.name, first: [], noop: [], detail: t.detail }));
  for (let round = 0; round < rounds; round++) {
    for (const [i, tool] of tools.entries()) {
      // A new dir name each round: a first upload is one to a destination that never received this bundle (odapi
      // remembers what it sent where, and a rerun of the same bundle expects a no-op: see last-sync.ts).
      const d = path.join(setup.work, `${ep.name}-${i}-${round}`);
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d, { recursive: true });
      setup.owner?.own(d);
      const row = rows[i] as Row;
      row.first.push(await secondsAsync(() => tool.run(d)));
      row.noop.push(await secondsAsync(() => tool.run(d)));
      rmSync(d, { recursive: true, force: true });
    }
  }
  for (const r of rows) {
    console.log(`  ${ep.name}: ${r.tool} first ${list(r.first)}; no-op ${list(r.noop)} (s, in round order)`);
  }
  return rows;
}

function list(xs: number[]): string {
  return xs.map((x) => x.toFixed(2)).join(" ");
}

async function waitBanner(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await bannerSeen(port, 1000, host))) {
    if (Date.now() > deadline) throw new Error(`no sshd on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const scenarios = arg("scenarios", "loopback,rtt80,tbf").split(",");
  const rounds = Number(arg("rounds", arg("repeat", "5")));
  const slowRounds = Number(arg("slow-rounds", "3"));
  const odapiCmd = arg("odapi", "node bin/odapi.cjs").split(" ");
  console.log(
    `load average at start: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")} on ${os.cpus().length} cores; odapi = \`${odapiCmd.join(" ")}\``,
  );
  console.log(`preparing ${(TOTAL / 1e6).toFixed(1)} MB in 5 files under ${DATA_DIR} …`);
  const models = ensureData();
  const sshd = await startSshd({ userAuthorizedKeys: true });
  const work = path.join(os.tmpdir(), `odapi-bench-upload-${process.pid}`);
  mkdirSync(work, { recursive: true, mode: 0o755 });
  const knownHosts = path.join(work, "known_hosts");
  const stops: (() => Promise<void> | void)[] = [
    () => sshd.stop(),
    () => rmSync(work, { recursive: true, force: true }),
  ];
  const loginUser = process.argv.includes("--as-current-user")
    ? undefined
    : benchLoginUser(work, readFileSync(`${sshd.userKeyPath}.pub`, "utf8"));
  if (loginUser) {
    stops.push(() => loginUser.remove());
    removeUserOnSignal = () => loginUser.remove();
  }
  const setup: BenchSetup = {
    models,
    work,
    keyPath: sshd.userKeyPath,
    hostKey: sshd.hostKey,
    knownHosts,
    odapi: odapiCmd,
    owner: loginUser,
  };
  const user = loginUser?.name ?? sshd.target().user;
  const results: Result[] = [];
  try {
    // What every remote command costs here before it does anything (the login shell's init runs for each).
    const execCost = async (u: string) => {
      const probe = await connect(sshd.target({ user: u }));
      try {
        return Math.min(
          ...[await secondsAsync(() => probe.exec(["true"])), await secondsAsync(() => probe.exec(["true"]))],
        );
      } finally {
        await probe.close();
      }
    };
    const ms = (sec: number) => `${(sec * 1000).toFixed(0)} ms`;
    const self = sshd.target().user;
    if (loginUser) {
      console.log(
        `logging in as ${loginUser.name}, a fresh user with /etc/skel's shell profile (--as-current-user to log in as ${self}): ` +
          `one remote command (ssh exec of \`true\`) costs ${ms(await execCost(loginUser.name))} for it, ${ms(await execCost(self))} for ${self} here`,
      );
    } else {
      console.log(
        `logging in as ${self}: one remote command (ssh exec of \`true\`) costs ${ms(await execCost(self))}`,
      );
    }
    const nodeStart = [] as number[];
    for (let i = 0; i < 5; i++) nodeStart.push(await secondsAsync(() => runAsync("node", ["-e", "0"])));
    console.log(`a bare \`node -e 0\` takes ${fmt(median(nodeStart))} here (median of 5)`);

    const kh: string[] = [];
    const endpoint = (name: string, host: string, port: number): Endpoint => {
      kh.push(`${port === 22 ? host : `[${host}]:${port}`} ${sshd.hostKey}`);
      writeFileSync(knownHosts, `${kh.join("\n")}\n`);
      return { name, host, port, user };
    };

    if (scenarios.includes("loopback")) {
      console.log(`loopback, ${rounds} rounds …`);
      const ep = endpoint("loopback", "127.0.0.1", sshd.port);
      results.push({ scenario: "loopback", rounds, rows: await benchEndpoint(ep, setup, rounds, true) });
    }
    if (scenarios.includes("rtt80")) {
      console.log(`80 ms round trip (delay proxy, 40 ms each way), ${slowRounds} rounds …`);
      const proxy = await startTcpProxy({ port: sshd.port }, { kind: "delay", ms: 40 });
      stops.push(() => proxy.close());
      const ep = endpoint("rtt80", "127.0.0.1", proxy.port);
      results.push({
        scenario: "80 ms RTT",
        rounds: slowRounds,
        rows: await benchEndpoint(ep, setup, slowRounds, false),
      });
    }
    if (scenarios.includes("tbf")) {
      const link = await startNamespaceLink(sshd.dir).catch((err: Error) => {
        console.log(`skipping the ${LINK_MBIT} Mbit/s scenario: ${err.message}`);
        return undefined;
      });
      if (link) {
        stops.push(() => link.stop());
        console.log(
          `${LINK_MBIT} Mbit/s veth link into a network namespace (tc tbf), ${slowRounds} rounds …`,
        );
        const ep = endpoint("tbf", NS_IP, NS_PORT);
        results.push({
          scenario: `${LINK_MBIT} Mbit/s`,
          rounds: slowRounds,
          rows: await benchEndpoint(ep, setup, slowRounds, false),
          linkMbit: LINK_MBIT,
        });
      }
    }
  } finally {
    for (const s of stops.reverse()) await s();
  }
  report(results);
  console.log(
    `load average at end: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")} on ${os.cpus().length} cores`,
  );
}

interface Result {
  scenario: string;
  rounds: number;
  rows: Row[];
  linkMbit?: number;
}

/** Network namespace + veth + tbf, and a second sshd (same keys and config) listening inside it. */
async function startNamespaceLink(sshdDir: string): Promise<{ stop(): void }> {
  if (process.getuid?.() !== 0) throw new Error("needs root (ip netns, tc)");
  const steps: (() => void)[] = [];
  let child: ChildProcess | undefined;
  const stop = () => {
    if (child && child.exitCode === null) child.kill("SIGTERM");
    for (const s of steps.reverse()) {
      try {
        s();
      } catch {
        // best effort: part of the setup may not exist
      }
    }
  };
  const inNs = (cmd: string, ...a: string[]) => run("ip", ["netns", "exec", NS, cmd, ...a]);
  try {
    run("ip", ["netns", "add", NS]);
    steps.push(() => run("ip", ["netns", "del", NS]));
    run("ip", ["link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NS]);
    steps.push(() => run("ip", ["link", "del", VETH_HOST]));
    run("ip", ["link", "set", VETH_NS, "netns", NS]);
    run("ip", ["addr", "add", `${HOST_IP}/24`, "dev", VETH_HOST]);
    run("ip", ["link", "set", VETH_HOST, "up"]);
    inNs("ip", "addr", "add", `${NS_IP}/24`, "dev", VETH_NS);
    inNs("ip", "link", "set", VETH_NS, "up");
    inNs("ip", "link", "set", "lo", "up");
    // Shape both directions: uploads go host → namespace (the host side's egress), ACKs come back.
    const tbf = ["root", "tbf", "rate", `${LINK_MBIT}mbit`, "burst", "128kb", "latency", "50ms"];
    run("tc", ["qdisc", "add", "dev", VETH_HOST, ...tbf]);
    inNs("tc", "qdisc", "add", "dev", VETH_NS, ...tbf);
    const config = readFileSync(path.join(sshdDir, "sshd_config"), "utf8")
      .replace(/^Port .*$/m, `Port ${NS_PORT}`)
      .replace(/^ListenAddress .*$/m, `ListenAddress ${NS_IP}`)
      .replace(/^PidFile .*$/m, `PidFile ${path.join(sshdDir, "sshd-ns.pid")}`);
    const configPath = path.join(sshdDir, "sshd_config_ns");
    writeFileSync(configPath, config);
    child = spawn("ip", ["netns", "exec", NS, "/usr/sbin/sshd", "-D", "-e", "-f", configPath], {
      stdio: "ignore",
    });
    await waitBanner(NS_IP, NS_PORT, 10_000);
    return { stop };
  } catch (err) {
    stop();
    throw err;
  }
}

function fmt(s: number): string {
  return `${s.toFixed(2)} s`;
}

function report(results: Result[]): void {
  const table = new Table({
    style: { head: [], border: [] },
    head: ["scenario", "tool", "rounds", "first upload", "MB/s", "% of link", "no-op rerun", "notes"],
  });
  for (const r of results) {
    for (const row of r.rows) {
      const first = median(row.first);
      const mbit = (TOTAL * 8) / first / 1e6;
      table.push([
        r.scenario,
        row.tool,
        r.rounds,
        `${fmt(first)} (${fmt(Math.min(...row.first))}–${fmt(Math.max(...row.first))})`,
        (TOTAL / first / 1e6).toFixed(1),
        r.linkMbit ? `${((mbit / r.linkMbit) * 100).toFixed(1)} %` : "",
        `${fmt(median(row.noop))} (${fmt(Math.min(...row.noop))}–${fmt(Math.max(...row.noop))})`,
        row.detail ?? "",
      ]);
    }
  }
  console.log(
    `\n${(TOTAL / 1e6).toFixed(1)} MB in 5 files; whole processes (start-up included); median (min–max) over the rounds\n${table.toString()}`,
  );

  const find = (scenario: string, tool: string) =>
    results.find((r) => r.scenario === scenario)?.rows.find((row) => row.tool === tool);
  const odapi = "odapi deploy";
  const lo = (t: string) => find("loopback", t);
  const r80 = (t: string) => find("80 ms RTT", t);
  const tbf = (t: string) => find(`${LINK_MBIT} Mbit/s`, t);
  const targets: [string, boolean | undefined, string][] = [];
  const check = (
    name: string,
    a: Row | undefined,
    b: Row | undefined,
    ok: (a: Row, b: Row) => boolean,
    how: (a: Row, b: Row) => string,
  ) => targets.push([name, a && b ? ok(a, b) : undefined, a && b ? how(a, b) : "not measured"]);
  const ratio = (a: Row, b: Row) => median(a.first) / median(b.first);
  check(
    "loopback first upload ≤ 1.3× scp -r (medians)",
    lo(odapi),
    lo("scp -r"),
    (a, b) => ratio(a, b) <= 1.3,
    (a, b) => `${ratio(a, b).toFixed(2)}× (${fmt(median(a.first))} vs ${fmt(median(b.first))})`,
  );
  check(
    "loopback no-op rerun ≤ 0.6 s (median)",
    lo(odapi),
    lo(odapi),
    (a) => median(a.noop) <= 0.6,
    (a) => fmt(median(a.noop)),
  );
  check(
    "80 ms RTT first upload ≤ 0.45× scp -r (medians)",
    r80(odapi),
    r80("scp -r"),
    (a, b) => ratio(a, b) <= 0.45,
    (a, b) => `${ratio(a, b).toFixed(2)}× (${fmt(median(a.first))} vs ${fmt(median(b.first))})`,
  );
  check(
    "100 Mbit/s link: ≥ 90 % of the link (median)",
    tbf(odapi),
    tbf(odapi),
    (a) => (TOTAL * 8) / median(a.first) / 1e6 / LINK_MBIT >= 0.9,
    (a) => `${(((TOTAL * 8) / median(a.first) / 1e6 / LINK_MBIT) * 100).toFixed(1)} %`,
  );
  check(
    "100 Mbit/s no-op rerun ≤ rsync's no-op (medians)",
    tbf(odapi),
    tbf("rsync -a"),
    (a, b) => median(a.noop) <= median(b.noop),
    (a, b) => `${fmt(median(a.noop))} vs ${fmt(median(b.noop))}`,
  );
  const t = new Table({ style: { head: [], border: [] }, head: ["target", "result", "measured"] });
  for (const [name, ok, how] of targets) t.push([name, ok === undefined ? "n/a" : ok ? "PASS" : "FAIL", how]);
  console.log(t.toString());
}

let removeUserOnSignal: () => void = () => undefined;
const cleanupOnSignal = () => {
  removeUserOnSignal();
  // Remove the namespace if we are interrupted; it would otherwise outlive the script.
  try {
    execFileSync("ip", ["netns", "del", NS], { stdio: "ignore" });
  } catch {
    // not created
  }
  process.exit(130);
};
process.once("SIGINT", cleanupOnSignal);
process.once("SIGTERM", cleanupOnSignal);

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
