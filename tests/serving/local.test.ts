// odapi local: the plan (pure), the Docker checks, and the command run for real on this engine-less machine.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { type ClientOptions, parseArgs as parseClientArgs, resolveTarget } from "../../cli/client";
import {
  dockerProblem,
  type LocalArgs,
  planLocal,
  scanModels,
  servableModels,
  testClientArgv,
} from "../../cli/local";
import { ExitCode } from "../../common/errors";
import { servingRunArgs } from "../../serving";
import { pathWithout } from "../helpers/path-without";
import { ODAPI_BIN, runOdapi } from "../helpers/run";
import { removeDir, tempDirPerTest } from "../helpers/tmp";
import { describeWithDockerCli } from "./docker-cli";

const args: LocalArgs = {
  models: "models",
  port: 8501,
  gpu: false,
  catalog: "ssd_mobilenet_v2",
  test: true,
  stop: false,
  timeout: 600,
  json: false,
};

describe("planLocal", () => {
  test("prepared models: serve them on 127.0.0.1 from ./models, configs in .odapi/local, then the test client", () => {
    const plan = planLocal({
      cwd: "/w/proj",
      args,
      listing: { b: [1], a: [1, 2], ".staging": [1], empty: [] },
    });
    expect(plan).toEqual({
      stateDir: "/w/proj/.odapi/local",
      modelsDir: "/w/proj/models",
      prepareArgv: undefined,
      serving: {
        host: "cpu",
        remoteDir: "/w/proj/.odapi/local",
        modelsHostDir: "/w/proj/models",
        models: [{ name: "a" }, { name: "b" }],
        publicPort: 8501,
        publicBind: "127.0.0.1",
        apiKey: undefined,
      },
      startArgv: ["bash", "/w/proj/.odapi/local/start.sh"],
      url: "http://127.0.0.1:8501",
      testArgv: [
        "npx",
        "zx",
        "bootstrap/test-endpoint.mjs",
        "--url",
        "http://127.0.0.1:8501",
        "--model",
        "a",
        "--model",
        "b",
      ],
    });
    // Same renderer as a deployed host: the local engine gets the same container, mounts from the local dirs.
    expect(servingRunArgs(plan.serving)).toContain("type=bind,source=/w/proj/models,target=/models,readonly");
    expect(servingRunArgs(plan.serving)).toContain("127.0.0.1:8501:8501");
  });

  test("no prepared model: prepare the catalog's fast model first, with the odapi CLI as a child process", () => {
    const plan = planLocal({
      cwd: "/w/proj",
      args: { ...args, models: "out/m", gpu: true, test: false },
      listing: {},
    });
    expect(plan.prepareArgv).toEqual([
      process.execPath,
      ODAPI_BIN,
      "prepare",
      "--catalog",
      "ssd_mobilenet_v2",
      "--out",
      "/w/proj/out/m",
    ]);
    expect(plan.serving.models).toEqual([{ name: "ssd_mobilenet_v2" }]);
    expect(plan.serving.host).toBe("gpu");
    expect(plan.testArgv).toBeUndefined();
  });

  test("with ODAPI_API_KEY the gateway takes the port; the key is not on the test client's argv", () => {
    const plan = planLocal({
      cwd: "/w",
      args: { ...args, port: 9000 },
      listing: { m: [1] },
      apiKey: "0123456789abcdef0123",
    });
    expect(plan.url).toBe("http://127.0.0.1:9000");
    expect(plan.serving.apiKey).toBe("0123456789abcdef0123");
    expect(plan.testArgv?.join(" ")).not.toContain("0123456789abcdef0123");
  });

  test("servableModels ignores dot dirs and dirs without a version", () => {
    expect(servableModels({ z: [3], ".cache": [1], x: [], a: [1] })).toEqual(["a", "z"]);
    expect(testClientArgv("http://h:1", ["m"])).toEqual([
      "npx",
      "zx",
      "bootstrap/test-endpoint.mjs",
      "--url",
      "http://h:1",
      "--model",
      "m",
    ]);
  });

  test("the test client checks exactly the models local mode serves (not its own default model)", async () => {
    const plan = planLocal({ cwd: "/w", args, listing: { efficientdet_d0: [1], my_detector: [2] } });
    const argv = plan.testArgv ?? [];
    // What test-endpoint.mjs hands to the client's parser: everything after the script path.
    const opts = await parseClientArgs(argv.slice(argv.indexOf("bootstrap/test-endpoint.mjs") + 1), () => {});
    const target = resolveTarget(opts as ClientOptions, {});
    expect(target.url).toBe(plan.url);
    expect(target.models).toEqual(["efficientdet_d0", "my_detector"]);
  });
});

describe("scanModels", () => {
  const dir = tempDirPerTest("odapi-local-scan-");

  test("numeric version dirs holding saved_model.pb, sorted; staging and empty dirs do not count", () => {
    for (const v of ["1", "10", "2", "3.staging"]) {
      mkdirSync(path.join(dir(), "m", v), { recursive: true });
      if (v !== "2") writeFileSync(path.join(dir(), "m", v, "saved_model.pb"), "");
    }
    mkdirSync(path.join(dir(), "other"));
    writeFileSync(path.join(dir(), "README"), "");
    expect(scanModels(dir())).toEqual({ m: [1, 10], other: [] });
    expect(scanModels(path.join(dir(), "missing"))).toEqual({});
  });
});

describe("dockerProblem", () => {
  test("no docker command → missingTool naming what to install", () => {
    const err = dockerProblem({
      status: null,
      stderr: "",
      error: Object.assign(new Error("spawn docker ENOENT"), { code: "ENOENT" }),
    });
    expect(err?.exitCode).toBe(ExitCode.missingTool);
    expect(err?.message).toMatch(/Docker is not installed/);
    expect(err?.remedy).toMatch(/Docker Desktop .* Docker Engine/);
  });

  test("engine down, permission denied, working", () => {
    const down = dockerProblem({
      status: 1,
      stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.",
      error: undefined,
    });
    expect(down?.message).toMatch(/not running .*Cannot connect/);
    expect(down?.exitCode).toBe(ExitCode.missingTool);
    const perm = dockerProblem({
      status: 1,
      stderr: "permission denied while trying to connect",
      error: undefined,
    });
    expect(perm?.remedy).toMatch(/docker group/);
    expect(dockerProblem({ status: 0, stdout: "x86_64\n", stderr: "", error: undefined })).toBeUndefined();
  });

  test("an ARM engine (Apple silicon) is refused: TF Serving images are x86_64 only", () => {
    const arm = dockerProblem({ status: 0, stdout: "aarch64\n", stderr: "", error: undefined }, "cpu");
    expect(arm?.exitCode).toBe(ExitCode.missingTool);
    expect(arm?.message).toMatch(
      /runs on aarch64, but the tensorflow\/serving:2\.20\.0 image exists for x86_64 only/,
    );
    expect(arm?.remedy).toMatch(/pulumi up -s cpu|odapi deploy/);
  });
});

/** Runs `node bin/odapi.cjs local …` as a user would. */
function odapi(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }) {
  return runOdapi(argv, opts);
}

describe("odapi local, run for real", () => {
  const cwd = tempDirPerTest("odapi-local-");

  test("without docker on PATH: exit 12 (missingTool), what to install, nothing prepared or written", async () => {
    const noDocker = pathWithout(["docker"]);
    const r = await odapi(["local"], {
      cwd: cwd(),
      env: { ...process.env, PATH: noDocker },
    }).finally(() => removeDir(noDocker));
    expect(r.code).toBe(ExitCode.missingTool);
    expect(r.stderr).toMatch(/^error: Docker is not installed .*\n {2}fix: install Docker Desktop/m);
    expect(existsSync(path.join(cwd(), "models"))).toBe(false);
    expect(existsSync(path.join(cwd(), ".odapi"))).toBe(false);
  });

  test("--stop with nothing started here says so and succeeds", async () => {
    const r = await odapi(["local", "--stop", "--json"], { cwd: cwd(), env: process.env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ stopped: false, reason: "nothing was started here" });
  });

  test("an unknown --catalog is refused before anything else", async () => {
    const r = await odapi(["local", "--catalog", "yolo"], { cwd: cwd(), env: process.env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/yolo/);
  });

  test("with a recording docker and a server playing TF Serving: renders, starts, waits, detects once, reports JSON", async () => {
    // The engine cannot run here: a docker on PATH records argv; a tiny HTTP server plays TF Serving's status and predict API.
    const bin = path.join(cwd(), "bin");
    mkdirSync(bin);
    writeFileSync(
      path.join(bin, "docker"),
      `#!/usr/bin/env bash\nprintf '%s\\n' "$*" >> ${JSON.stringify(path.join(cwd(), "calls"))}\ncase "$1 $2" in\n  "info "*) echo x86_64 ;;\n  "image inspect"|"run "*|"network create") exit 0 ;;\n  "inspect --format") echo "running 0" ;;\n  *) exit 1 ;;\nesac\n`,
      { mode: 0o755 },
    );
    writeFileSync(path.join(bin, "sleep"), "#!/usr/bin/env bash\n", { mode: 0o755 });
    mkdirSync(path.join(cwd(), "models/ssd_mobilenet_v2/1"), { recursive: true });
    writeFileSync(path.join(cwd(), "models/ssd_mobilenet_v2/1/saved_model.pb"), "");
    let polls = 0;
    let predictBytes = 0;
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        res.setHeader("content-type", "application/json");
        if (req.method === "GET" && req.url === "/v1/models/ssd_mobilenet_v2") {
          polls += 1;
          const state = polls < 3 ? "LOADING" : "AVAILABLE";
          res.end(
            JSON.stringify({ model_version_status: [{ version: "1", state, status: { error_code: "OK" } }] }),
          );
        } else if (req.method === "POST" && req.url === "/v1/models/ssd_mobilenet_v2:predict") {
          predictBytes = body.length;
          const prediction = {
            detection_boxes: [[0.1, 0.2, 0.5, 0.6]],
            detection_scores: [0.9],
            detection_classes: [1],
            num_detections: 1,
          };
          res.end(JSON.stringify({ predictions: [prediction] }));
        } else {
          res.statusCode = 404;
          res.end(JSON.stringify({ error: "not found" }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const r = await odapi(["local", "--port", String(port), "--no-test", "--json"], {
        cwd: cwd(),
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      });
      expect(r.stderr).toContain("ssd_mobilenet_v2 is AVAILABLE");
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toEqual({
        url: `http://127.0.0.1:${port}`,
        models: ["ssd_mobilenet_v2"],
        ready: [
          expect.objectContaining({
            model: "ssd_mobilenet_v2",
            versions: ["1"],
            detections: 1,
            topScore: 0.9,
          }),
        ],
        seconds: expect.any(Number),
      });
      expect(polls).toBeGreaterThanOrEqual(3);
      // One real request body: the sample image as b64 JSON.
      expect(predictBytes).toBeGreaterThan(60_000);
      const state = path.join(cwd(), ".odapi/local");
      expect(readFileSync(path.join(state, "config/models.config"), "utf8")).toContain(
        'base_path: "/models/ssd_mobilenet_v2"',
      );
      expect(statSync(path.join(state, "start.sh")).mode & 0o777).toBe(0o755);
      const runLine = readFileSync(path.join(cwd(), "calls"), "utf8")
        .split("\n")
        .find((l) => l.startsWith("run "));
      expect(runLine).toContain(`--publish 127.0.0.1:${port}:8501`);
      expect(runLine).toContain(`source=${path.join(cwd(), "models")},target=/models,readonly`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describeWithDockerCli("odapi local with the real docker client and no engine", () => {
  const cwd = tempDirPerTest("odapi-local-");

  test("docker client without an engine (this machine): exit 12 with the engine message", async () => {
    const r = await odapi(["local"], {
      cwd: cwd(),
      env: { ...process.env, DOCKER_HOST: "unix:///nonexistent/odapi/docker.sock" },
    });
    expect(r.code).toBe(ExitCode.missingTool);
    expect(r.stderr).toMatch(/error: the Docker engine is not running or not reachable/);
    expect(r.stderr).toMatch(/fix: start Docker Desktop, or the engine on Linux/);
  });
});
