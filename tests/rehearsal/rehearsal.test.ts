// The deployed host rehearsed for real: odapi prepare → deploy over a real sshd to this machine, whose Docker is
// the private test engine → start.sh → readiness → detection through the gateway → status, logs, stop → deploy
// again → a new version under load, a killed container, an engine restart, odapi local. TF Serving is the
// stand-in of tests/rehearsal/standin (real TensorFlow, the real SavedModels). One engine for the whole file.
import { type DockerEngine, startDockerEngine } from "../../scripts/harness/docker-engine";
import {
  openRehearsal,
  type Rehearsal,
  type RehearsalStep,
  rehearsalSteps,
  SQUARE,
} from "../../scripts/harness/rehearsal";

const started = startDockerEngine();
if ("skipped" in started) console.warn(`SKIPPED the rehearsal: ${started.skipped}`);
const describeEngine = "engine" in started ? describe : describe.skip;

function step(name: string): RehearsalStep {
  const found = rehearsalSteps.find((s) => s.name === name);
  if (!found) throw new Error(`no rehearsal step ${name}`);
  return found;
}

describeEngine("the rehearsal on a private Docker engine", () => {
  let r: Rehearsal;

  beforeAll(async () => {
    const opened = await openRehearsal({
      engine: (started as { engine: DockerEngine }).engine,
      log: (line) => console.log(line),
    });
    if ("skipped" in opened) throw new Error(`the rehearsal cannot run: ${opened.skipped}`);
    r = opened.rehearsal;
  }, 900_000);

  afterAll(async () => {
    if (r) await r.stop();
    else if ("engine" in started) await started.engine.stop();
  });

  test("every step is covered by a test below", () => {
    expect(rehearsalSteps.map((s) => s.name)).toEqual([
      "stop before any deploy",
      "prepare",
      "deploy",
      "detect through the gateway",
      "status and logs",
      "stop",
      "deploy again",
      "new version under load",
      "serving process killed",
      "engine restart (host reboot)",
      "odapi local",
    ]);
  });

  test("odapi stop before any deploy names the missing stop.sh and the --remote-dir fix (exit 2)", async () => {
    const { facts } = await step("stop before any deploy").run(r);
    expect(facts.code).toBe(2);
    expect(facts.stderr).toContain(`error: ${r.remoteDir}/stop.sh does not exist on 127.0.0.1`);
    expect(facts.stderr).not.toContain("is not installed");
  }, 120_000);

  test("odapi prepare writes version 1 of the test detector", async () => {
    const { facts } = await step("prepare").run(r);
    expect(facts.json).toMatchObject({ models: [{ name: "square", status: "prepared" }] });
    expect((facts.json as { models: { path: string }[] }).models[0].path).toBe(`${r.modelsDir}/square/1`);
  }, 300_000);

  test("odapi deploy uploads, runs start.sh on the engine, proves readiness and checks the gateway", async () => {
    const { facts } = await step("deploy").run(r);
    expect(facts.json).toMatchObject({ models: ["square"] });
    expect((facts.json as { uploadedFiles: number }).uploadedFiles).toBeGreaterThan(0);
    expect(facts.running).toEqual(["odapi-gateway", "odapi-serving"]);
    expect(facts.gatewayChecked).toBe(true);
  }, 600_000);

  test("the test client through the gateway with the key finds the red square; without the key: 401", async () => {
    const { facts } = await step("detect through the gateway").run(r);
    expect(facts.versions).toEqual(["1"]);
    expect(facts.found).toMatchObject({ box: SQUARE });
    expect(facts.withoutKey).toBe(401);
    // HTTPS by default: the key over plain HTTP is refused by the TLS port.
    expect(facts.plainHttp).toBe(400);
  }, 120_000);

  test("odapi status and logs read the running host", async () => {
    const { facts } = await step("status and logs").run(r);
    expect(facts.status).toMatchObject({
      deployed: true,
      models: [{ name: "square", state: "AVAILABLE", versions: ["1"] }],
    });
    expect((facts.status as { containers: { name: string; state: string }[] }).containers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "odapi-serving", state: "running" }),
        expect.objectContaining({ name: "odapi-gateway", state: "running" }),
      ]),
    );
    expect(facts.logs).toContain("Successfully loaded servable version {name: square version: 1}");
    expect(facts.gatewayLogs).toMatch(/"POST \/v1\/models\/square:predict HTTP\/1\.1" 200/);
  }, 120_000);

  test("odapi stop removes the containers; the API is gone", async () => {
    const { facts } = await step("stop").run(r);
    expect(facts.running).toEqual([]);
    expect(facts.afterStop).toBe(0);
  }, 120_000);

  test("deploying again uploads nothing and serves again", async () => {
    const { facts } = await step("deploy again").run(r);
    expect(facts.json).toMatchObject({ uploadedFiles: 0, models: ["square"] });
    expect(facts.running).toEqual(["odapi-gateway", "odapi-serving"]);
  }, 600_000);

  test("a new version deployed while a client sends requests: not one request fails", async () => {
    const { facts } = await step("new version under load").run(r);
    expect(facts.failures).toEqual([]);
    expect(facts.requests).toBeGreaterThan(10);
    expect(facts.deployed).toMatchObject({ models: ["square"] });
  }, 600_000);

  test("the TF Serving process killed (a crash): the restart policy brings it back and the same gateway finds it", async () => {
    const { facts } = await step("serving process killed").run(r);
    expect(facts.restarts).toBeGreaterThanOrEqual(1);
    expect(facts.gatewayKept).toBe(true);
  }, 300_000);

  test("an engine restart (a host reboot): both containers come back and detect", async () => {
    const { facts } = await step("engine restart (host reboot)").run(r);
    expect(facts.running).toEqual(["odapi-gateway", "odapi-serving"]);
  }, 300_000);

  test("odapi local serves the same models on the same engine, and --stop removes them", async () => {
    const { facts } = await step("odapi local").run(r);
    expect(facts.json).toMatchObject({ models: ["square"] });
    expect(facts.status).toMatchObject({ model_version_status: [{ version: "2", state: "AVAILABLE" }] });
    expect(facts.stopped).toEqual({ stopped: true });
    expect(facts.running).toEqual([]);
    // Without --no-test, local ran the test client once (it writes its annotated picture to the project's out/).
    expect(facts.localLog).toMatch(/annotated → \S*out\/astronaut\.square\.png/);
  }, 600_000);
});
