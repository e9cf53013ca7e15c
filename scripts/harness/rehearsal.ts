// The rehearsal of a deployed host: this machine plays the host (a real sshd whose sessions use the private
// Docker engine), the odapi CLI does what a user does, and each step returns what it saw or throws with why.
// `npm run rehearse` runs the steps in order and times them; tests/rehearsal/rehearsal.test.ts asserts on them.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { type HttpResponse, httpRequest } from "../../client/http";
import { projectFile } from "../../common/paths";
import { CONTAINERS } from "../../serving/constants";
import { type DockerEngine, startDockerEngine } from "./docker-engine";
import { ensureRehearsalImages, type RehearsalImages } from "./rehearsal-images";
import { freePort, type Sshd, startSshd } from "./sshd";

export const MODEL = "square";
/** Where the red square sits in the rehearsal's photo (pixels). */
export const SQUARE = { left: 100, top: 60, right: 180, bottom: 140 } as const;
/** Host ports deploy always takes on 127.0.0.1 with a gateway (TF Serving REST and gRPC). */
const FIXED_HOST_PORTS = [18501, 8500];
const PYTHON = projectFile(".venv", "bin", "python");

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Rehearsal {
  engine: DockerEngine;
  images: RehearsalImages;
  sshd: Sshd;
  work: string;
  modelsDir: string;
  remoteDir: string;
  publicPort: number;
  apiKey: string;
  /** The private CA `odapi deploy` makes for 127.0.0.1 (in this rehearsal's own config dir): the client's --ca-cert. */
  caFile: string;
  photo: string;
  /** node bin/odapi.cjs with the SSH connection flags appended for commands that take them. */
  odapi(
    args: string[],
    opts?: { connect?: boolean; cwd?: string; timeoutMs?: number },
  ): Promise<CommandResult>;
  stop(): Promise<void>;
}

/** Runs a process to its end (bounded), never throwing for a non-zero exit. */
export function runCommand(
  cmd: string,
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd: opts.cwd ?? projectFile(),
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGTERM"), opts.timeoutMs ?? 600_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(true));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(false)));
  });
}

/** Starts everything the steps need (on the given engine, or a new one), or says why it cannot run here. */
export async function openRehearsal(
  opts: { log?: (line: string) => void; engine?: DockerEngine } = {},
): Promise<{ rehearsal: Rehearsal } | { skipped: string }> {
  const log = opts.log ?? (() => undefined);
  for (const port of FIXED_HOST_PORTS) {
    if (await portTaken(port))
      return { skipped: `port ${port} on 127.0.0.1 is taken (deploy publishes TF Serving there)` };
  }
  const started = opts.engine ? { engine: opts.engine } : startDockerEngine();
  if (!("engine" in started)) return started;
  const { engine } = started;
  const work = mkdtempSync(path.join(os.tmpdir(), "odapi-rehearsal-"));
  let sshd: Sshd | undefined;
  try {
    const images = ensureRehearsalImages(engine, { log });
    // The sshd's sessions (start.sh, status, logs, stop) reach the private engine, not a system Docker.
    sshd = await startSshd({ extraConfig: [`SetEnv DOCKER_HOST=${engine.dockerHost}`] });
    const keyFile = path.join(work, "key");
    writeFileSync(keyFile, sshd.userKey, { mode: 0o600 });
    const photo = path.join(work, "square.png");
    const raw = path.join(work, "raw-square");
    // model-prep's own test detector (it finds a red square) and a photo with the square where SQUARE says.
    const built = spawnSync(
      PYTHON,
      [
        "-c",
        `import sys; sys.path.insert(0, sys.argv[1])
from pathlib import Path
from mp_detectors import save_detector, square_image
save_detector(Path(sys.argv[2]), rows=10)
Path(sys.argv[3]).write_bytes(square_image(320, 240, (${SQUARE.left}, ${SQUARE.top}, ${SQUARE.right}, ${SQUARE.bottom}), "PNG")[0])`,
        projectFile("tests", "python", "model_prep"),
        raw,
        photo,
      ],
      { encoding: "utf8", timeout: 300_000, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: "2" } },
    );
    if (built.status !== 0)
      throw new Error(`building the test detector failed: ${built.stderr || built.error}`);
    const s = sshd;
    const connection = [
      "--host",
      "127.0.0.1",
      "--port",
      String(s.port),
      "--user",
      s.user,
      "--key",
      keyFile,
      "--host-key",
      s.hostKey,
      "--remote-dir",
      path.join(work, "host", "odapi"),
    ];
    const apiKey = "rehearsal-key-0123456789abcdef0123456789";
    // The per-user config (known_hosts, the generated TLS CA) stays inside the rehearsal's work dir.
    const configHome = path.join(work, "config");
    const rehearsal: Rehearsal = {
      engine,
      images,
      sshd: s,
      work,
      modelsDir: path.join(work, "models"),
      remoteDir: path.join(work, "host", "odapi"),
      publicPort: await freePort(),
      apiKey,
      caFile: path.join(configHome, "odapi", "tls", "127.0.0.1", "ca.crt"),
      photo,
      odapi: (args, o = {}) =>
        runCommand(
          process.execPath,
          [projectFile("bin", "odapi.cjs"), ...args, ...(o.connect ? connection : [])],
          {
            cwd: o.cwd ?? work,
            env: { ...engine.env, ODAPI_API_KEY: apiKey, NO_COLOR: "1", XDG_CONFIG_HOME: configHome },
            timeoutMs: o.timeoutMs ?? 600_000,
          },
        ),
      stop: async () => {
        await s.stop();
        await engine.stop();
        rmSync(work, { recursive: true, force: true });
      },
    };
    return { rehearsal };
  } catch (err) {
    await sshd?.stop();
    await engine.stop();
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
}

function jsonOf(what: string, r: CommandResult): Record<string, unknown> {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`${what} printed no JSON object:\n${r.stdout}\n${r.stderr}`);
  }
}

/** `odapi prepare` of the test detector as version N of MODEL. */
export async function prepareVersion(r: Rehearsal, version: number): Promise<Record<string, unknown>> {
  const raw = path.join(r.work, "raw-square");
  return jsonOf(
    "odapi prepare",
    await r.odapi([
      "prepare",
      "--saved-model",
      raw,
      "--name",
      MODEL,
      "--version",
      String(version),
      "--out",
      r.modelsDir,
      "--json",
    ]),
  );
}

/** `odapi deploy` with the API key: upload, start.sh, the readiness proof, the gateway check. */
export async function deployModels(r: Rehearsal): Promise<{ json: Record<string, unknown>; stderr: string }> {
  const run = await r.odapi(
    ["deploy", "--models", r.modelsDir, "--public-port", String(r.publicPort), "--wait", "300", "--json"],
    { connect: true },
  );
  return { json: jsonOf("odapi deploy", run), stderr: run.stderr };
}

export interface Detection {
  label: string;
  score: number;
  box: { left: number; top: number; right: number; bottom: number };
}

/** The test client through the gateway with the key: the detections on the red-square photo. */
export async function detectThroughGateway(
  r: Rehearsal,
): Promise<{ versions: string[]; detections: Detection[] }> {
  const run = await runCommand(
    process.execPath,
    [
      projectFile("bootstrap", "test-endpoint.mjs"),
      "--url",
      `https://127.0.0.1:${r.publicPort}`,
      "--ca-cert",
      r.caFile,
      "--model",
      MODEL,
      "--image",
      r.photo,
      "--out",
      path.join(r.work, "out"),
      "--json",
    ],
    { env: { ...process.env, ODAPI_API_KEY: r.apiKey, NO_COLOR: "1" }, cwd: r.work, timeoutMs: 120_000 },
  );
  const json = jsonOf("the test client", run) as {
    models: { versions: string[]; images: { detections: Detection[] }[] }[];
  };
  return { versions: json.models[0].versions, detections: json.models[0].images[0].detections };
}

/** One request to the gateway's port: https verified with the deploy's CA, or plain http (which it must refuse). */
export function gatewayRequest(
  r: Rehearsal,
  path: string,
  opts: { withKey: boolean; body?: string; plain?: boolean; timeoutMs?: number },
): Promise<HttpResponse> {
  return httpRequest(new URL(`${opts.plain ? "http" : "https"}://127.0.0.1:${r.publicPort}${path}`), {
    method: opts.body === undefined ? "GET" : "POST",
    headers: {
      ...(opts.withKey ? { "X-API-Key": r.apiKey } : {}),
      ...(opts.body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: opts.body,
    timeoutMs: opts.timeoutMs ?? 10_000,
    ...(opts.plain ? {} : { ca: readFileSync(r.caFile, "utf8") }),
  });
}

/** One request through the gateway: its HTTP status (0 when the connection failed). */
export async function gatewayStatus(r: Rehearsal, withKey: boolean, plain = false): Promise<number> {
  try {
    return (await gatewayRequest(r, `/v1/models/${MODEL}`, { withKey, plain })).status;
  } catch {
    return 0;
  }
}

/** `odapi status --json`, `odapi logs`, and what the engine itself says runs. */
export async function statusAndLogs(r: Rehearsal): Promise<{
  status: Record<string, unknown>;
  logs: string;
  gatewayLogs: string;
  running: string[];
}> {
  const status = jsonOf("odapi status", await r.odapi(["status", "--json"], { connect: true }));
  const logs = await r.odapi(["logs", "-n", "50"], { connect: true });
  if (logs.code !== 0) throw new Error(`odapi logs exited ${logs.code}: ${logs.stderr}`);
  const gatewayLogs = await r.odapi(["logs", "-n", "20", "--container", "gateway"], {
    connect: true,
  });
  if (gatewayLogs.code !== 0)
    throw new Error(`odapi logs --container exited ${gatewayLogs.code}: ${gatewayLogs.stderr}`);
  return { status, logs: logs.stdout, gatewayLogs: gatewayLogs.stdout, running: runningContainers(r) };
}

/** Names of the running containers, sorted. */
export function runningContainers(r: Rehearsal): string[] {
  return r.engine.docker(["ps", "--format", "{{.Names}}"]).split("\n").filter(Boolean).sort();
}

/** `odapi stop`: the containers go, the models stay. */
export async function stopServing(r: Rehearsal): Promise<{ stdout: string; running: string[] }> {
  const run = await r.odapi(["stop"], { connect: true });
  if (run.code !== 0) throw new Error(`odapi stop exited ${run.code}: ${run.stderr}`);
  return { stdout: `${run.stdout}${run.stderr}`, running: runningContainers(r) };
}

/** Retries fn until it returns true or the deadline passes; returns the ms it took. */
export async function waitFor(what: string, fn: () => Promise<boolean>, deadlineMs: number): Promise<number> {
  const t0 = Date.now();
  for (let delay = 100; Date.now() - t0 < deadlineMs; delay = Math.min(delay * 2, 2000)) {
    if (await fn()) return Date.now() - t0;
    await new Promise((res) => setTimeout(res, delay));
  }
  throw new Error(`${what}: not within ${deadlineMs / 1000} s`);
}

/** Requests through the gateway in a loop until stopped: how many were sent and which failed. */
export function startLoad(
  r: Rehearsal,
  workers = 2,
): { stop(): Promise<{ requests: number; failures: string[] }> } {
  const body = JSON.stringify({
    instances: [{ b64: readFileSync(r.photo).toString("base64") }],
  });
  let running = true;
  let requests = 0;
  const failures: string[] = [];
  const worker = async () => {
    while (running) {
      requests++;
      try {
        const res = await gatewayRequest(r, `/v1/models/${MODEL}:predict`, {
          withKey: true,
          body,
          timeoutMs: 60_000,
        });
        if (res.status !== 200) failures.push(`${res.status} ${res.body.toString("utf8").slice(0, 200)}`);
      } catch (err) {
        failures.push(String((err as Error).cause ?? err));
      }
    }
  };
  const all = Array.from({ length: workers }, worker);
  return {
    stop: async () => {
      running = false;
      await Promise.all(all);
      return { requests, failures };
    },
  };
}

/** Throws with the message when cond is false: a step's own check, so `npm run rehearse` fails as the test does. */
function check(cond: boolean, message: string): void {
  if (!cond) throw new Error(message);
}

/** The detection that covers SQUARE (within 4 px on each side), if any. */
export function squareFound(detections: Detection[]): Detection | undefined {
  const near = (a: number, b: number) => Math.abs(a - b) <= 4;
  return detections.find(
    (d) =>
      near(d.box.left, SQUARE.left) &&
      near(d.box.top, SQUARE.top) &&
      near(d.box.right, SQUARE.right) &&
      near(d.box.bottom, SQUARE.bottom),
  );
}

function inspect(r: Rehearsal, container: string, format: string): string {
  const res = r.engine.tryDocker(["inspect", "--format", format, container], 10_000);
  return res.status === 0 ? res.stdout.trim() : "missing";
}

/** Until a detection through the gateway finds the square again (after a restart of some kind). */
async function detectsAgain(r: Rehearsal, what: string, deadlineMs = 120_000): Promise<number> {
  // The status route answers 200 while the model is still LOADING, so the client may fail for a while: retried
  // until the deadline, and the last failure is what the timeout reports.
  let last = "";
  try {
    return await waitFor(
      what,
      async () => {
        try {
          return (
            (await gatewayStatus(r, true)) === 200 &&
            squareFound((await detectThroughGateway(r)).detections) !== undefined
          );
        } catch (err) {
          last = (err as Error).message;
          return false;
        }
      },
      deadlineMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}${last ? `; last failure: ${last}` : ""}`);
  }
}

export interface StepResult {
  summary: string;
  facts: Record<string, unknown>;
}

export interface RehearsalStep {
  name: string;
  run(r: Rehearsal): Promise<StepResult>;
}

const BOTH = [CONTAINERS.gateway, CONTAINERS.serving].sort();

export const rehearsalSteps: RehearsalStep[] = [
  {
    name: "stop before any deploy",
    run: async (r) => {
      const run = await r.odapi(["stop"], { connect: true });
      check(
        run.code === 2 && run.stderr.includes("nothing is deployed in that --remote-dir"),
        `odapi stop with nothing deployed: exit ${run.code}: ${run.stderr}`,
      );
      return { summary: "refused: nothing is deployed there", facts: { ...run } };
    },
  },
  {
    name: "prepare",
    run: async (r) => {
      const json = await prepareVersion(r, 1);
      return { summary: `odapi prepare wrote ${r.modelsDir}/${MODEL}/1`, facts: { json } };
    },
  },
  {
    name: "deploy",
    run: async (r) => {
      const { json, stderr } = await deployModels(r);
      const running = runningContainers(r);
      check(
        JSON.stringify(running) === JSON.stringify(BOTH),
        `after deploy the engine runs ${running.join(", ")}`,
      );
      return {
        summary: `uploaded ${json.uploadedFiles} files, readiness proven, gateway checked`,
        facts: { json, running, gatewayChecked: stderr.includes("passes requests with the API key") },
      };
    },
  },
  {
    name: "detect through the gateway",
    run: async (r) => {
      const { versions, detections } = await detectThroughGateway(r);
      const found = squareFound(detections);
      check(found !== undefined, `no detection covers the square: ${JSON.stringify(detections)}`);
      const withoutKey = await gatewayStatus(r, false);
      check(withoutKey === 401, `without the key the gateway answered ${withoutKey}`);
      // The key over plain HTTP to the TLS port: refused (nginx's 497, as the gateway's JSON 400).
      const plainHttp = await gatewayStatus(r, true, true);
      check(plainHttp === 400, `a keyed plain-HTTP request got ${plainHttp}`);
      return {
        summary: `found the square over HTTPS at ${JSON.stringify(found?.box)}; without the key: ${withoutKey}; plain HTTP: ${plainHttp}`,
        facts: { versions, found, withoutKey, plainHttp },
      };
    },
  },
  {
    name: "status and logs",
    run: async (r) => {
      const seen = await statusAndLogs(r);
      const models = seen.status.models as { name: string; state: string }[];
      check(models?.[0]?.state === "AVAILABLE", `odapi status says ${JSON.stringify(seen.status)}`);
      check(seen.logs.includes("TEST DOUBLE"), `odapi logs shows no serving log:\n${seen.logs}`);
      return { summary: `status: ${models[0].name} ${models[0].state}; logs read`, facts: seen };
    },
  },
  {
    name: "stop",
    run: async (r) => {
      const stopped = await stopServing(r);
      const afterStop = await gatewayStatus(r, true);
      check(stopped.running.length === 0, `still running after odapi stop: ${stopped.running.join(", ")}`);
      return { summary: "containers removed, models kept", facts: { ...stopped, afterStop } };
    },
  },
  {
    name: "deploy again",
    run: async (r) => {
      const { json } = await deployModels(r);
      check(json.uploadedFiles === 0, `the second deploy uploaded ${json.uploadedFiles} files`);
      return { summary: "nothing uploaded, serving again", facts: { json, running: runningContainers(r) } };
    },
  },
  {
    name: "new version under load",
    run: async (r) => {
      await prepareVersion(r, 2);
      const load = startLoad(r);
      await waitFor(
        "the first requests under load",
        async () => (await gatewayStatus(r, true)) === 200,
        30_000,
      );
      let deployed: Record<string, unknown> = {};
      let result: { requests: number; failures: string[] };
      try {
        deployed = (await deployModels(r)).json;
        await waitFor(
          "version 2 served",
          async () => (await detectThroughGateway(r)).versions.join() === "2",
          120_000,
        );
      } finally {
        result = await load.stop();
      }
      check(
        result.failures.length === 0,
        `${result.failures.length} of ${result.requests} requests failed: ${result.failures.slice(0, 3).join(" / ")}`,
      );
      return {
        summary: `${result.requests} requests while version 2 rolled out, none failed`,
        facts: { ...result, deployed },
      };
    },
  },
  {
    name: "serving process killed",
    run: async (r) => {
      const gatewayStarted = inspect(r, CONTAINERS.gateway, "{{.State.StartedAt}}");
      // The server process dies as in a crash or the OOM killer. Not `docker kill`: Docker counts that as a
      // manual stop, which the restart policy respects (measured: the container stays exited).
      process.kill(Number(inspect(r, CONTAINERS.serving, "{{.State.Pid}}")), "SIGKILL");
      const ms = await detectsAgain(r, "a detection after the server process was killed");
      const restarts = Number(inspect(r, CONTAINERS.serving, "{{.RestartCount}}"));
      const gatewayKept = inspect(r, CONTAINERS.gateway, "{{.State.StartedAt}}") === gatewayStarted;
      check(restarts >= 1, "the serving container was not restarted by its policy");
      check(gatewayKept, "the gateway was restarted");
      return {
        summary: `restarted by policy, detecting again after ${(ms / 1000).toFixed(1)} s`,
        facts: { restarts, gatewayKept },
      };
    },
  },
  {
    name: "engine restart (host reboot)",
    run: async (r) => {
      await r.engine.restart();
      const ms = await detectsAgain(r, "a detection after the engine restart");
      const running = runningContainers(r);
      return {
        summary: `both containers back, detecting after ${(ms / 1000).toFixed(1)} s`,
        facts: { running },
      };
    },
  },
  {
    name: "odapi local",
    run: async (r) => {
      await stopServing(r);
      const port = await freePort();
      const started = await r.odapi([
        "local",
        "--models",
        r.modelsDir,
        "--port",
        String(port),
        "--timeout",
        "300",
        "--json",
      ]);
      const json = jsonOf("odapi local", started);
      const status = await fetch(`http://127.0.0.1:${port}/v1/models/${MODEL}`, {
        headers: { "X-API-Key": r.apiKey },
        signal: AbortSignal.timeout(10_000),
      }).then((res) => res.json());
      const stopped = jsonOf("odapi local --stop", await r.odapi(["local", "--stop", "--json"]));
      return {
        summary: `served on ${json.url}, stopped`,
        // Without --no-test, local ran the test client once; with --json its report went to stderr.
        facts: { json, status, stopped, running: runningContainers(r), localLog: started.stderr },
      };
    },
  },
];
