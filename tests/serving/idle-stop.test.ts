// The idle auto-stop, rendered and run for real: ShellCheck and systemd-analyze on what it renders, then the script
// against a stand-in of TF Serving's loopback endpoints (Prometheus text and model status this test controls), with
// a recording power-off command and a clock the test sets.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the expected strings are bash, ${…} is bash syntax
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import {
  IDLE_SCRIPT,
  IDLE_UNITS,
  IDLE_UNITS_DIR,
  idleVerdict,
  parseIdleState,
  REQUEST_COUNT_METRIC,
  renderIdleInstallScript,
  renderIdleStopFiles,
  renderIdleStopScript,
  renderIdleStopService,
  renderIdleStopTimer,
} from "../../serving/idle-stop";
import { runProcess } from "../helpers/run";
import { tempDirPerTest } from "../helpers/tmp";

jest.setTimeout(60_000);

const opts = { idleMinutes: 30, restPort: 18501, models: ["ssd", "retina"], remoteDir: "/opt/odapi" };

describe("rendered idle auto-stop", () => {
  const dir = tempDirPerTest("odapi-idle-render-");

  it("the script and the install step's script pass ShellCheck", () => {
    const file = path.join(dir(), IDLE_SCRIPT);
    writeFileSync(file, renderIdleStopScript(opts));
    // The install script runs as `bash -c TEXT`: checked with the shebang it implies.
    const install = path.join(dir(), "idle-stop-install.sh");
    writeFileSync(install, `#!/usr/bin/env bash\n${renderIdleInstallScript()}`);
    const r = spawnSync("shellcheck", ["--severity=style", file, install], { encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });

  it("the units pass systemd-analyze verify and run the script every interval from boot", () => {
    const service = path.join(dir(), IDLE_UNITS.service);
    const timer = path.join(dir(), IDLE_UNITS.timer);
    writeFileSync(service, renderIdleStopService(opts));
    writeFileSync(timer, renderIdleStopTimer({ ...opts, intervalMinutes: 2 }));
    const r = spawnSync("systemd-analyze", ["verify", service, timer], { encoding: "utf8" });
    expect(r.stderr.split("\n").filter((l) => l.includes("odapi-idle"))).toEqual([]);
    expect(r.status).toBe(0);
    expect(readFileSync(service, "utf8")).toContain("ExecStart=/bin/bash /opt/odapi/idle-stop.sh");
    expect(readFileSync(timer, "utf8")).toContain("OnUnitActiveSec=2min");
    expect(readFileSync(timer, "utf8")).toContain("WantedBy=timers.target");
  });

  it("reads TF Serving's metrics and model status on loopback only, powers off with systemctl by default", () => {
    const script = renderIdleStopScript(opts);
    expect(script).toContain("metrics_url=http://127.0.0.1:18501/monitoring/prometheus/metrics");
    expect(script).toContain("http://127.0.0.1:18501/v1/models/");
    expect(script).toContain("window=${ODAPI_IDLE_SECONDS:-1800}");
    expect(script).toContain('"${ODAPI_IDLE_POWEROFF:-systemctl poweroff}"');
    expect(script).toContain("state_file=${ODAPI_IDLE_STATE:-/run/odapi/idle-state}");
  });
});

describe("idle state (pure)", () => {
  it("parses the state file and says idle for X min, stops in Y min", () => {
    const state = parseIdleState(
      "available_since=1000\nlast_activity=1600\nlast_count=7\nchecked_at=2000\nwindow_seconds=3600\nmetrics=up\njunk\n",
    );
    expect(state).toEqual({
      availableSince: 1000,
      lastActivity: 1600,
      lastCount: 7,
      checkedAt: 2000,
      windowSeconds: 3600,
      metrics: "up",
    });
    expect(idleVerdict(state, 1600 + 25 * 60)).toEqual({ kind: "idle", idleMinutes: 25, stopsInMinutes: 35 });
    expect(idleVerdict(state, 1600 + 4000)).toEqual({ kind: "idle", idleMinutes: 66, stopsInMinutes: 0 });
    expect(idleVerdict({ ...state, metrics: "down" }, 2000)).toEqual({ kind: "metrics-down" });
    expect(idleVerdict(parseIdleState("available_since=\nmetrics=up\n"), 2000)).toEqual({
      kind: "waiting-for-models",
    });
  });
});

/** A stand-in for TF Serving's REST port: the Prometheus page and each model's status, as the test sets them. */
async function startStandIn() {
  const s = { count: 0, available: false, metricsUp: true, scrapes: 0 };
  const server = http.createServer((req, res) => {
    if (req.url === "/monitoring/prometheus/metrics") {
      s.scrapes += 1;
      if (!s.metricsUp) return void res.writeHead(503).end("down");
      // Two models, two status labels, plus a TYPE line: the script sums every sample of the counter.
      const ok = Math.ceil(s.count / 2);
      return void res
        .writeHead(200, { "content-type": "text/plain" })
        .end(
          `# TYPE ${REQUEST_COUNT_METRIC} counter\n` +
            `${REQUEST_COUNT_METRIC}{model_name="ssd",status="OK"} ${ok}\n` +
            `${REQUEST_COUNT_METRIC}{model_name="retina",status="INVALID_ARGUMENT"} ${s.count - ok}\n` +
            `:tensorflow:serving:request_example_count_total{model="ssd"} 999\n`,
        );
    }
    const m = /^\/v1\/models\/(\w+)$/.exec(req.url ?? "");
    if (m) {
      const state = s.available ? "AVAILABLE" : "LOADING";
      return void res
        .writeHead(200, { "content-type": "application/json" })
        .end(`{\n "model_version_status": [\n  {\n   "version": "1",\n   "state": "${state}"\n  }\n ]\n}\n`);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const close = () => new Promise<void>((r) => (server.listening ? server.close(() => r()) : r()));
  return { s, port: (server.address() as AddressInfo).port, close };
}

describe("idle script against a stand-in TF Serving", () => {
  const dir = tempDirPerTest("odapi-idle-run-");
  let standIn: Awaited<ReturnType<typeof startStandIn>>;
  beforeEach(async () => {
    standIn = await startStandIn();
  });
  afterEach(() => standIn.close());

  /** Renders the script for the stand-in; `run(now)` runs it once at that clock (epoch seconds). */
  function setup(idleMinutes = 2) {
    const script = path.join(dir(), IDLE_SCRIPT);
    const stateFile = path.join(dir(), "run", "idle-state");
    const marker = path.join(dir(), "powered-off");
    writeFileSync(
      script,
      renderIdleStopScript({
        idleMinutes,
        restPort: standIn.port,
        models: ["ssd", "retina"],
        remoteDir: dir(),
      }),
    );
    const run = (now?: number, env: Record<string, string> = {}) =>
      runProcess("bash", [script], {
        env: {
          ODAPI_IDLE_STATE: stateFile,
          ODAPI_IDLE_POWEROFF: `touch ${marker}`,
          ...(now !== undefined ? { ODAPI_IDLE_NOW: String(now) } : {}),
          ...env,
        },
      });
    const state = () => parseIdleState(readFileSync(stateFile, "utf8"));
    return { run, state, poweredOff: () => existsSync(marker) };
  }

  it("never stops before every model was first AVAILABLE, then stops after the idle window", async () => {
    const t = setup(2);
    for (const now of [1000, 1200, 5000]) {
      const r = await t.run(now);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("waiting for ssd to be AVAILABLE");
    }
    expect(t.poweredOff()).toBe(false);
    expect(t.state().availableSince).toBeUndefined();
    standIn.s.available = true;
    expect((await t.run(6000)).stdout).toContain("idle for 0 min; stops in 2 min");
    expect(t.state()).toMatchObject({ availableSince: 6000, lastActivity: 6000, windowSeconds: 120 });
    expect((await t.run(6119)).code).toBe(0);
    expect(t.poweredOff()).toBe(false);
    const r = await t.run(6120);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("no model request for 2 min (120 s, limit 120 s): powering off");
    expect(t.poweredOff()).toBe(true);
  });

  it("never stops while requests flow: each new count restarts the idle clock", async () => {
    const t = setup(2);
    standIn.s.available = true;
    await t.run(1000);
    for (let now = 1100; now <= 1700; now += 100) {
      standIn.s.count += 3;
      const r = await t.run(now);
      expect(r.stdout).toContain("idle for 0 min");
    }
    expect(t.poweredOff()).toBe(false);
    expect(t.state()).toMatchObject({ lastActivity: 1700, lastCount: 21 });
    // A counter that went down (TF Serving restarted) is activity too, not a reason to stop.
    standIn.s.count = 1;
    await t.run(1900);
    expect(t.state()).toMatchObject({ lastActivity: 1900, lastCount: 1 });
    expect(t.poweredOff()).toBe(false);
    await t.run(2020);
    expect(t.poweredOff()).toBe(true);
  });

  it("metrics down: no stop however long, and the clock restarts once they are back", async () => {
    const t = setup(2);
    standIn.s.available = true;
    await t.run(1000);
    standIn.s.metricsUp = false;
    for (const now of [1200, 5000, 9000]) {
      const r = await t.run(now);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("metrics unavailable");
    }
    expect(t.poweredOff()).toBe(false);
    expect(t.state().metrics).toBe("down");
    expect(idleVerdict(t.state(), 9000)).toEqual({ kind: "metrics-down" });
    standIn.s.metricsUp = true;
    expect((await t.run(9060)).stdout).toContain("idle for 1 min; stops in 1 min");
    expect(t.poweredOff()).toBe(false);
  });

  it("a metrics server that is not there at all (connection refused) is no reason to stop either", async () => {
    const t = setup(2);
    standIn.s.available = true;
    await t.run(1000);
    await standIn.close();
    const r = await t.run(99_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("metrics unavailable");
    expect(t.poweredOff()).toBe(false);
  });

  it("with the real clock and a 1 s window: stops once the window has passed without a request", async () => {
    const t = setup();
    standIn.s.available = true;
    await t.run(undefined, { ODAPI_IDLE_SECONDS: "1" });
    expect(t.poweredOff()).toBe(false);
    await new Promise((r) => setTimeout(r, 2100));
    const r = await t.run(undefined, { ODAPI_IDLE_SECONDS: "1" });
    expect(r.stdout).toContain("powering off");
    expect(t.poweredOff()).toBe(true);
    expect(standIn.s.scrapes).toBe(2);
  });
});

describe("the install step's script (what odapi deploy --idle-stop-minutes runs as root)", () => {
  const dir = tempDirPerTest("odapi-idle-install-");

  /** A remoteDir with the rendered files, a unit dir, and a systemctl stand-in that records its calls. */
  function setup() {
    const remote = path.join(dir(), "opt");
    const unitDir = path.join(dir(), "etc-systemd");
    const runMarker = path.join(dir(), "run-systemd");
    const bin = path.join(dir(), "bin");
    const calls = path.join(dir(), "systemctl.log");
    for (const d of [remote, path.join(remote, IDLE_UNITS_DIR), unitDir, runMarker, bin])
      mkdirSync(d, { recursive: true });
    for (const f of renderIdleStopFiles({ ...opts, remoteDir: remote }))
      writeFileSync(path.join(remote, f.path), f.content, { mode: f.mode });
    writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\necho "$*" >>${calls}\n`, { mode: 0o755 });
    const run = (action: "on" | "off", env: Record<string, string> = {}) =>
      runProcess("bash", ["-c", renderIdleInstallScript(), "idle-stop-install", remote, action], {
        env: {
          ODAPI_SYSTEMD_DIR: unitDir,
          ODAPI_SYSTEMD_RUN: runMarker,
          PATH: `${bin}:${process.env.PATH}`,
          ...env,
        },
      });
    const systemctl = () => (existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n") : []);
    return { remote, unitDir, run, systemctl };
  }

  it("on: installs both units, reloads, enables and (re)starts the timer; off: disables it and removes every file", async () => {
    const t = setup();
    const on = await t.run("on");
    expect(on.stderr).toBe("");
    expect(on.code).toBe(0);
    expect(readFileSync(path.join(t.unitDir, IDLE_UNITS.timer), "utf8")).toBe(renderIdleStopTimer(opts));
    expect(readFileSync(path.join(t.unitDir, IDLE_UNITS.service), "utf8")).toContain(
      `${t.remote}/idle-stop.sh`,
    );
    expect(t.systemctl()).toEqual([
      "daemon-reload",
      `enable ${IDLE_UNITS.timer}`,
      `restart ${IDLE_UNITS.timer}`,
    ]);

    const off = await t.run("off");
    expect(off.code).toBe(0);
    expect(off.stdout).toContain("idle auto-stop off");
    expect(t.systemctl().slice(3)).toEqual([`disable --now ${IDLE_UNITS.timer}`, "daemon-reload"]);
    expect(existsSync(path.join(t.unitDir, IDLE_UNITS.timer))).toBe(false);
    expect(existsSync(path.join(t.unitDir, IDLE_UNITS.service))).toBe(false);
    expect(existsSync(path.join(t.remote, IDLE_SCRIPT))).toBe(false);
    // Off again (nothing installed): no systemctl call, still fine.
    expect((await t.run("off")).code).toBe(0);
    expect(t.systemctl()).toHaveLength(5);
  });

  it("a host without systemd: on fails with the one-line error and its fix, off has nothing to do", async () => {
    const t = setup();
    const on = await t.run("on", { ODAPI_SYSTEMD_RUN: path.join(dir(), "absent") });
    expect(on.code).toBe(1);
    expect(on.stderr).toBe(
      "odapi-error: the idle auto-stop needs systemd, which does not run on this host | fix: deploy without --idle-stop-minutes (or with 0), or stop the host yourself when idle\n",
    );
    const off = await t.run("off", { ODAPI_SYSTEMD_RUN: path.join(dir(), "absent") });
    expect(off.code).toBe(0);
    expect(t.systemctl()).toEqual([]);
  });
});
