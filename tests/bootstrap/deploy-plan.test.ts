import { checkRemoteDir } from "../../common/remote-dir";
// The pure decisions behind deploy/status/logs/stop: plan, argv (exact strings), sudo, parsing.

import { EventEmitter } from "node:events";
import { throwIfCancelled } from "../../bootstrap/deploy/index";
import {
  DEPLOY_RECORD,
  modelNamesOf,
  parseDeployRecord,
  planDeploy,
  renderedToBundle,
} from "../../bootstrap/deploy/plan";
import { isDiskFull, staleVersionMessages, untilConnectionLost } from "../../bootstrap/deploy/upload";
import { parseDiskFree } from "../../bootstrap/transfer/remote-scripts";
import { parseParallel } from "../../cli/deploy";
import { logsArgv } from "../../cli/logs";
import { dockerPsArgv, formatStatus, parseDockerPs } from "../../cli/status";
import { stopArgv } from "../../cli/stop";
import { ExitCode } from "../../common/errors";
import { remoteCommandLine } from "../../common/shell";
import { thrown } from "../helpers/errors";

const input = { remoteDir: "/opt/odapi/", modelsDir: "./models" };

describe("planDeploy: the idle auto-stop", () => {
  test("--idle-stop-minutes N: the script and units are bundled for TF Serving's loopback port, the timer switched on last", () => {
    const plan = planDeploy(
      { ...input, apiKey: "k".repeat(40), idleStopMinutes: 45 },
      ["ssd", "retina"],
      "ubuntu",
    );
    const files = Object.fromEntries(plan.renderedFiles.map((f) => [f.path, f]));
    expect(files["idle-stop.sh"]?.mode).toBe(0o755);
    expect(files["idle-stop.sh"]?.content).toContain(
      "metrics_url=http://127.0.0.1:18501/monitoring/prometheus/metrics",
    );
    expect(files["idle-stop.sh"]?.content).toContain("models=(retina ssd)");
    expect(files["idle-stop.sh"]?.content).toContain(":-2700}");
    expect(files["systemd/odapi-idle-stop.service"]?.content).toContain(
      "ExecStart=/bin/bash /opt/odapi/idle-stop.sh",
    );
    expect(files["systemd/odapi-idle-stop.timer"]?.mode).toBe(0o644);
    expect(plan.idleStop?.minutes).toBe(45);
    expect(plan.idleStop?.argv.slice(-3)).toEqual(["idle-stop-install", "/opt/odapi", "on"]);
    expect(remoteCommandLine(plan.idleStop?.argv as string[], { sudo: true, user: "ubuntu" })).toMatch(
      /^sudo -n -- bash -c 'set -Eeuo pipefail\n[\s\S]*' idle-stop-install \/opt\/odapi on$/,
    );
  });

  test("0 removes it (nothing bundled); not given leaves the host as it is; out of range is a usage error", () => {
    const off = planDeploy({ ...input, idleStopMinutes: 0 }, ["ssd"], "root");
    expect(off.renderedFiles.map((f) => f.path)).not.toContain("idle-stop.sh");
    expect(off.idleStop?.argv.slice(-1)).toEqual(["off"]);
    expect(planDeploy(input, ["ssd"], "root").idleStop).toBeUndefined();
    for (const bad of [2, -1, 20_000, Number.NaN]) {
      const e = thrown(() => planDeploy({ ...input, idleStopMinutes: bad }, ["ssd"], "root"));
      expect(e.exitCode).toBe(ExitCode.usage);
      expect(e.message).toBe(`--idle-stop-minutes ${bad} is out of range`);
      expect(e.remedy).toContain("0 (off) or 5…10080");
    }
  });
});

describe("planDeploy", () => {
  test("a non-root user: scripts run through sudo -n, the dir is created as the user or chowned to it", () => {
    const plan = planDeploy(input, ["ssd_mobilenet_v2"], "ubuntu");
    expect(plan.remoteDir).toBe("/opt/odapi");
    expect(plan.models).toEqual(["ssd_mobilenet_v2"]);
    expect(remoteCommandLine(plan.ensureDir.argv, { sudo: false, user: "ubuntu" })).toBe(
      `sh -c 'for d in "$@"; do mkdir -p -- "$d" || exit 1; test -w "$d" || { echo "$d is not writable (owner or read-only filesystem)" >&2; exit 1; }; done' sh /opt/odapi /opt/odapi/models /opt/odapi/config`,
    );
    expect(remoteCommandLine(plan.ensureDir.privilegedArgv, { sudo: true, user: "ubuntu" })).toBe(
      "sudo -n -- install -d -o ubuntu -m 0755 /opt/odapi /opt/odapi/models /opt/odapi/config",
    );
    // prepare-host.sh runs from its rendered text, so it can overlap the upload.
    const script = plan.renderedFiles.find((f) => f.path === "prepare-host.sh")?.content;
    expect(script).toMatch(/^#!\/usr\/bin\/env bash/);
    expect(plan.prepareHost.argv).toEqual(["bash", "-c", script, "prepare-host.sh"]);
    expect(remoteCommandLine(plan.prepareHost.argv, { sudo: plan.prepareHost.sudo, user: "ubuntu" })).toMatch(
      /^sudo -n -- bash -c '#!\/usr\/bin\/env bash\n[\s\S]*' prepare-host\.sh$/,
    );
    expect(plan.start && remoteCommandLine(plan.start.argv, { sudo: plan.start.sudo, user: "ubuntu" })).toBe(
      "sudo -n -- bash /opt/odapi/start.sh",
    );
    expect(plan.start?.internalRestPort).toBe(8501);
  });

  test("root runs the same scripts without sudo", () => {
    const plan = planDeploy(input, ["m"], "root");
    expect(plan.start && remoteCommandLine(plan.start.argv, { sudo: true, user: "root" })).toBe(
      "bash /opt/odapi/start.sh",
    );
  });

  test("--no-start plans no start and no wait; catalog models join the served list", () => {
    const plan = planDeploy(
      { ...input, start: false, catalog: ["efficientdet_d0", "efficientdet_d0"] },
      ["a_local"],
      "u",
    );
    expect(plan.start).toBeUndefined();
    expect(plan.catalog).toEqual(["efficientdet_d0"]);
    expect(plan.models).toEqual(["a_local", "efficientdet_d0"]);
  });

  test("with an API key the wait goes to TF Serving's internal loopback port, the gateway holds the public one", () => {
    const plan = planDeploy({ ...input, apiKey: "0123456789abcdef0123", publicPort: 8501 }, ["m"], "u");
    expect(plan.start?.internalRestPort).toBe(18501);
    // After the wait, deploy checks the public path through the gateway's port too.
    expect(plan.start?.gatewayPort).toBe(8501);
    expect(planDeploy(input, ["m"], "u").start?.gatewayPort).toBeUndefined();
    expect(plan.renderedFiles.map((f) => f.path)).toContain("config/gateway.conf");
    const record = JSON.parse(plan.renderedFiles.find((f) => f.path === DEPLOY_RECORD)?.content ?? "{}");
    expect(record).toEqual({
      models: ["m"],
      host: "cpu",
      publicPort: 8501,
      internalRestPort: 18501,
      gateway: true,
      tls: false,
    });
  });

  test("with a TLS identity the gateway speaks HTTPS: chain and 0600 key rendered, recorded; without a key it is refused", () => {
    const tls = { certPem: "CHAIN-PEM", keyPem: "KEY-PEM" };
    const plan = planDeploy({ ...input, apiKey: "0123456789abcdef0123", tls }, ["m"], "u");
    expect(plan.serving.tls).toEqual(tls);
    const file = (p: string) => plan.renderedFiles.find((f) => f.path === p);
    expect(file("config/gateway-tls.crt")).toMatchObject({ content: "CHAIN-PEM", mode: 0o644 });
    expect(file("config/gateway-tls.key")).toMatchObject({ content: "KEY-PEM", mode: 0o600 });
    expect(file("config/gateway.conf")?.content).toContain("ssl_certificate /etc/nginx/odapi-tls.crt;");
    expect(JSON.parse(file(DEPLOY_RECORD)?.content ?? "{}").tls).toBe(true);
    expect(() => planDeploy({ ...input, tls }, ["m"], "u")).toThrow(/without an API key/);
  });

  test("GPU hosts get the GPU serving image in start.sh", () => {
    const plan = planDeploy({ ...input, gpu: true }, ["m"], "u");
    expect(plan.serving.host).toBe("gpu");
    expect(plan.renderedFiles.find((f) => f.path === "start.sh")?.content).toContain(
      "tensorflow/serving:2.20.0-gpu",
    );
  });

  test("bad input is a usage/config error before anything happens", () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as { exitCode: number; message: string };
      }
      throw new Error("did not throw");
    };
    expect(err(() => planDeploy(input, [], "u"))).toMatchObject({
      exitCode: ExitCode.usage,
      message: "nothing to deploy: no models given",
    });
    expect(err(() => planDeploy({ ...input, catalog: ["m"] }, ["m"], "u")).message).toMatch(
      /both in --models and --catalog/,
    );
    expect(err(() => planDeploy(input, ["bad name"], "u")).exitCode).toBe(ExitCode.config);
    // Catalog names and the version are checked before connecting, not after Docker is installed on the host.
    expect(err(() => planDeploy({ ...input, catalog: ["ssd_mobilenet"] }, [], "u"))).toMatchObject({
      exitCode: ExitCode.usage,
      message: 'unknown catalog model "ssd_mobilenet"',
    });
    expect(
      err(() => planDeploy({ ...input, catalog: ["efficientdet_d0"], version: 0 }, [], "u")),
    ).toMatchObject({
      exitCode: ExitCode.usage,
      message: expect.stringMatching(/model version 0 is not a positive integer/),
    });
    for (const dir of ["relative", "/", "/opt/../etc", ""]) {
      expect(err(() => checkRemoteDir(dir)).exitCode).toBe(ExitCode.usage);
    }
  });
});

test("a cancelled deploy stops between steps with a resumable error", () => {
  const ac = new AbortController();
  expect(() => throwIfCancelled(ac.signal)).not.toThrow();
  expect(() => throwIfCancelled(undefined)).not.toThrow();
  ac.abort();
  expect(() => throwIfCancelled(ac.signal)).toThrow("deploy cancelled; finished steps are kept");
});

describe("untilConnectionLost", () => {
  const fakeSession = () => {
    const client = new EventEmitter();
    return { client, target: { host: "h" } } as unknown as Parameters<typeof untilConnectionLost>[0] & {
      client: EventEmitter;
    };
  };

  test("a promise that never settles is rejected (exit 3) once the connection closed and the grace passed", async () => {
    const s = fakeSession();
    const p = untilConnectionLost(s, new Promise(() => undefined), 50);
    s.client.emit("close");
    await expect(p).rejects.toMatchObject({ exitCode: ExitCode.unreachable });
  });

  test("the work's own result or error wins when it settles within the grace", async () => {
    const s = fakeSession();
    const failing = untilConnectionLost(
      s,
      new Promise((_, reject) => setTimeout(() => reject(new Error("engine says")), 10)),
      200,
    );
    s.client.emit("close");
    await expect(failing).rejects.toThrow("engine says");
    const ok = untilConnectionLost(s, Promise.resolve(7), 200);
    await expect(ok).resolves.toBe(7);
    expect(s.client.listenerCount("close")).toBe(0);
  });
});

test("model names come from models/<name>/ paths", () => {
  expect(
    modelNamesOf([
      { relPath: "models/b/1/saved_model.pb" },
      { relPath: "models/a/2/variables/variables.index" },
      { relPath: "models/b/2/saved_model.pb" },
      { relPath: "config/models.config" },
    ]),
  ).toEqual(["a", "b"]);
});

test("rendered files become bundle entries with their sha256", () => {
  const [f] = renderedToBundle([{ path: "start.sh", content: "abc", mode: 0o755 }]);
  expect(f).toMatchObject({
    relPath: "start.sh",
    size: 3,
    mode: 0o755,
    sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  });
});

test("disk full is recognised from ENOSPC and SFTP's 'No space' failures; df output is parsed", () => {
  expect(isDiskFull(Object.assign(new Error("write failed"), { code: "ENOSPC" }))).toBe(true);
  expect(
    isDiskFull(Object.assign(new Error("Failure"), { code: 4, cause: new Error("No space left on device") })),
  ).toBe(true);
  expect(isDiskFull(new Error("Permission denied"))).toBe(false);
  const df =
    "Filesystem     1024-blocks    Used Available Capacity Mounted on\n/dev/root         30298176 9123456  21158336      31% /\n";
  expect(parseDiskFree(df)).toBe(21158336 * 1024);
  expect(parseDiskFree("garbage")).toBeUndefined();
  expect(
    parseDiskFree("Filesystem 1024-blocks Used Available\n/dev/root 30298176 9123456 -\n"),
  ).toBeUndefined();
});

describe("status, logs, stop", () => {
  test("argv are exact", () => {
    expect(dockerPsArgv()).toEqual([
      "docker",
      "ps",
      "--all",
      "--no-trunc",
      "--filter",
      "name=^odapi-",
      "--format",
      "{{json .}}",
    ]);
    expect(logsArgv({ container: "serving", lines: 200, follow: true, timestamps: false })).toEqual([
      "docker",
      "logs",
      "--tail",
      "200",
      "--follow",
      "odapi-serving",
    ]);
    expect(logsArgv({ container: "gateway", lines: 0, follow: false, timestamps: true })).toEqual([
      "docker",
      "logs",
      "--timestamps",
      "odapi-gateway",
    ]);
    expect(() => logsArgv({ container: "serving", lines: -1, follow: false, timestamps: false })).toThrow(
      /--lines -1/,
    );
    expect(stopArgv("/opt/odapi/")).toEqual(["bash", "/opt/odapi/stop.sh"]);
  });

  test("docker ps lines are parsed, other containers ignored", () => {
    const out = [
      JSON.stringify({
        Names: "odapi-serving",
        Image: "tensorflow/serving:2.20.0",
        State: "running",
        Status: "Up 5 minutes",
      }),
      JSON.stringify({ Names: "odapi-something-else", Image: "x", State: "exited", Status: "Exited (0)" }),
      JSON.stringify({
        Names: "odapi-gateway",
        Image: "odapi-gateway:0123456789abcdef",
        State: "running",
        Status: "Up 5 minutes",
      }),
      "",
    ].join("\n");
    expect(parseDockerPs(out)).toEqual([
      {
        name: "odapi-gateway",
        image: "odapi-gateway:0123456789abcdef",
        state: "running",
        status: "Up 5 minutes",
      },
      { name: "odapi-serving", image: "tensorflow/serving:2.20.0", state: "running", status: "Up 5 minutes" },
    ]);
  });

  test("the deploy record is read defensively and the status prints as tables", () => {
    expect(parseDeployRecord("not json")).toBeUndefined();
    expect(parseDeployRecord('{"models": "x"}')).toBeUndefined();
    const record = { models: ["m"], host: "cpu", publicPort: 8501, internalRestPort: 8501, gateway: false };
    expect(parseDeployRecord(JSON.stringify(record))).toEqual(record);
    const text = formatStatus({
      host: "203.0.113.7",
      remoteDir: "/opt/odapi",
      deployed: true,
      containers: [
        {
          name: "odapi-serving",
          image: "tensorflow/serving:2.20.0",
          state: "running",
          status: "Up 1 minute",
        },
      ],
      models: [{ name: "m", state: "AVAILABLE", versions: ["1"] }],
      publicPort: 8501,
    });
    expect(text).toContain("odapi-serving");
    expect(text).toContain("AVAILABLE");
    expect(text).toContain("REST API: http://203.0.113.7:8501/v1/models/<model>");
  });

  test("--parallel takes a count or auto", () => {
    expect(parseParallel(undefined)).toBeUndefined();
    expect(parseParallel("auto")).toBe("auto");
    expect(parseParallel("4")).toBe(4);
    expect(() => parseParallel("0")).toThrow(/--parallel 0/);
    expect(() => parseParallel("lots")).toThrow(/--parallel lots/);
  });
});

test("stale versions: a warning only for kept versions that outrank, a note for removed ones", () => {
  expect(staleVersionMessages([])).toEqual([]);
  expect(staleVersionMessages([{ dir: "models/a/1", outranks: false, removed: false }])).toEqual([]);
  const kept = staleVersionMessages([
    { dir: "models/a/3", outranks: true, removed: false },
    { dir: "models/b/9", outranks: true, removed: false },
  ]);
  expect(kept).toHaveLength(1);
  expect(kept[0]).toMatch(/^warning: models\/a\/3, models\/b\/9 on the host are newer .*--prune/);
  expect(
    staleVersionMessages([
      { dir: "models/a/1", outranks: false, removed: true },
      { dir: "models/a/3", outranks: true, removed: true },
    ]),
  ).toEqual(["removed versions not in --models (--prune): models/a/1, models/a/3"]);
});
