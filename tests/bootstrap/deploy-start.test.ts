// The full `odapi deploy` path with start: prepare-host.sh, start.sh, then the wait through the SSH tunnel.
// No Docker engine can run here, so a recording `docker` on the sshd session's PATH answers like the CLI and
// writes down each call, and TF Serving is the REST double of tests/helpers/fake-tf-serving.ts (it decodes the
// image we send). Everything else is real: sshd, the rendered scripts run by bash as root, the tunnel, the CLI.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ExitCode } from "../../common/errors";
import { writeDockerDouble } from "../helpers/docker-double";
import { type FakeServing, startFakeTfServing } from "../helpers/fake-tf-serving";
import { type OnOutput, runOdapi } from "../helpers/run";
import { type SshdCliFixture, startSshdCliFixture } from "../helpers/sshd-cli";
import { writeModelVersion } from "../helpers/tmp";

let fx: SshdCliFixture;
let tmp: string;
let serving: FakeServing;
let callsFile: string;
let modelsDir: string;

beforeAll(async () => {
  fx = await startSshdCliFixture({
    tmpPrefix: "odapi-deploy-start-",
    sshd: (dir) => {
      const docker = writeDockerDouble(dir);
      callsFile = docker.callsFile;
      return { extraConfig: docker.sshdConfig };
    },
  });
  ({ tmp, modelsDir } = fx);
  serving = await startFakeTfServing({ models: ["ssd_mobilenet_v2"] });
  writeModelVersion(modelsDir, "ssd_mobilenet_v2", 1, { pb: "pb", index: "ix" });
});

afterAll(async () => {
  await serving?.close();
  await fx?.stop();
});

function conn(remoteDir: string): string[] {
  return fx.conn(remoteDir);
}

function deploy(remoteDir: string, extra: string[] = []) {
  return odapi([
    "deploy",
    ...conn(remoteDir),
    "--models",
    modelsDir,
    // TF Serving's REST port on the host = where the double listens; the wait reaches it through the tunnel.
    "--public-port",
    String(serving.port),
    "--wait",
    "20",
    "--json",
    ...extra,
  ]);
}

function odapi(args: string[], onStdout?: OnOutput) {
  return runOdapi(args, { cwd: tmp, onStdout });
}

test("deploy prepares the host, starts TF Serving and returns only after a real detection through the tunnel", async () => {
  const remoteDir = path.join(tmp, "remote");
  writeFileSync(callsFile, "");
  const run = await deploy(remoteDir);
  expect(run.stderr).not.toMatch(/^error/m);
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ models: ["ssd_mobilenet_v2"], uploadedFiles: 8 });

  const calls = readFileSync(callsFile, "utf8").trim().split("\n");
  // prepare-host.sh checked Docker and the image; start.sh then replaced the container with the rendered flags.
  expect(calls.slice(0, 3)).toEqual(["--version", "info", "image inspect tensorflow/serving:2.20.0"]);
  const runCall = calls.find((c) => c.startsWith("run "));
  expect(runCall).toContain(`--publish 0.0.0.0:${serving.port}:8501`);
  expect(runCall).toContain(`--mount type=bind,source=${remoteDir}/models,target=/models,readonly`);
  expect(calls.indexOf(runCall as string)).toBeGreaterThan(2);
  // The script output and the proof detection are reported on stderr.
  expect(run.stderr).toContain("prepare-host:   odapi: host ready for TF Serving");
  expect(run.stderr).toContain("odapi: started TF Serving 2.20.0 (cpu) as container odapi-serving");
  expect(run.stderr).toMatch(
    /ssd_mobilenet_v2: AVAILABLE \(version 1\), 3 detections, top score 0\.91, \d+ ms/,
  );
  expect(serving.predictCalls.get("ssd_mobilenet_v2")).toBe(1);
});

test("a failing start.sh surfaces its odapi-error line and remedy, with start.sh's exit", async () => {
  const remoteDir = path.join(tmp, "remote-fail");
  const before = serving.predictCalls.get("ssd_mobilenet_v2") ?? 0;
  // The double fails `docker run` (like a taken port) while this flag file exists.
  writeFileSync(`${callsFile}.fail-run`, "");
  const run = await deploy(remoteDir).finally(() => rmSync(`${callsFile}.fail-run`));
  expect(run.code).toBe(ExitCode.failure);
  expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, error: { exitCode: ExitCode.failure } });
  expect(run.stderr).toMatch(
    /^error: could not start container odapi-serving \(docker's message is above\)$/m,
  );
  expect(run.stderr).toMatch(new RegExp(`^ {2}fix: free host port ${serving.port} `, "m"));
  expect(serving.predictCalls.get("ssd_mobilenet_v2") ?? 0).toBe(before);
});

test("status lists the containers and asks each deployed model for its state through the tunnel; logs prints the log", async () => {
  const remoteDir = path.join(tmp, "remote");
  const json = await odapi(["status", ...conn(remoteDir), "--json"]);
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toEqual({
    host: "127.0.0.1",
    remoteDir,
    deployed: true,
    containers: [
      { name: "odapi-serving", image: "tensorflow/serving:2.20.0", state: "running", status: "Up 2 minutes" },
    ],
    models: [{ name: "ssd_mobilenet_v2", state: "AVAILABLE", versions: ["1"] }],
    publicPort: serving.port,
  });
  const human = await odapi(["status", ...conn(remoteDir)]);
  expect(human.code).toBe(0);
  expect(human.stdout).toMatch(/odapi-serving .*tensorflow\/serving:2\.20\.0 .*running/);
  expect(human.stdout).toMatch(/ssd_mobilenet_v2 .*AVAILABLE/);

  writeFileSync(callsFile, "");
  const logs = await odapi(["logs", ...conn(remoteDir), "-n", "5"]);
  expect(logs.code).toBe(0);
  expect(logs.stdout).toBe(
    "I tensorflow_serving/model_servers/server.cc:120] Running gRPC ModelServer at 0.0.0.0:8500 ...\nI line two\n",
  );
  expect(readFileSync(callsFile, "utf8")).toBe("logs --tail 5 odapi-serving\n");
});

test("logs --follow streams until Ctrl-C, then exits 130 and the remote docker logs ends with the connection", async () => {
  const remoteDir = path.join(tmp, "remote");
  let interruptedAt = 0;
  const run = await odapi(["logs", ...conn(remoteDir), "--follow", "-n", "1"], (text, kill) => {
    if (!interruptedAt && text.includes("I following\n")) {
      interruptedAt = Date.now();
      kill("SIGINT");
    }
  });
  expect(interruptedAt).toBeGreaterThan(0);
  // Ctrl-C is 130 for every command; a follow that Ctrl-C ended is no error, so nothing is printed on stderr.
  expect(run.code).toBe(ExitCode.interrupted);
  expect(run.stderr).not.toMatch(/^error/m);
  expect(run.stdout).toBe("I following\n");
  expect(Date.now() - interruptedAt).toBeLessThan(5000);
  // The remote `docker logs --follow` (here: its sleep) got SIGHUP with the terminal and is gone.
  const alive = () => spawnSync("pgrep", ["-f", "^/bin/sleep 600$"]).status === 0;
  const t0 = Date.now();
  while (alive() && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 100));
  expect(alive()).toBe(false);
});
