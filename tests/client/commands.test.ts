// `odapi detect` and `odapi bench` (bin/odapi.cjs) against the TF Serving REST double: the same documents as
// the test-endpoint shim, each command with only its own flags, and the shim's flags still all there.
import { existsSync } from "node:fs";
import { ExitCode } from "../../common/errors";
import { type FakeServing, startFakeTfServing } from "../helpers/fake-tf-serving";
import { runOdapi } from "../helpers/run";
import { tempDirPerTest } from "../helpers/tmp";
import { runClient } from "./run-client";

let fake: FakeServing;
const tmp = tempDirPerTest("odapi-client-commands-");
const env = { NO_COLOR: "1", FORCE_COLOR: undefined, ODAPI_API_KEY: undefined };
const odapi = (args: string[]) => runOdapi(args, { env });

beforeAll(async () => {
  fake = await startFakeTfServing({ models: ["ssd_mobilenet_v2", "efficientdet_d0"] });
});
afterAll(() => fake.close());

/** A detect document without what differs from run to run (latency, output paths). */
function stable(doc: { models: { name: string; images: { latencyMs: number; annotated: string }[] }[] }) {
  return {
    ...doc,
    models: doc.models.map((m) => ({
      ...m,
      images: m.images.map(({ latencyMs: _l, annotated: _a, ...rest }) => rest),
    })),
  };
}

it("odapi detect prints the same JSON document as the shim", async () => {
  const args = ["--url", fake.url, "--model", "ssd_mobilenet_v2", "efficientdet_d0", "--json"];
  const viaOdapi = await odapi(["detect", ...args, "--out", tmp()]);
  const viaShim = await runClient([...args, "--out", tmp()]);
  expect(viaOdapi.code).toBe(0);
  expect(viaShim.code).toBe(0);
  const doc = JSON.parse(viaOdapi.stdout);
  expect(doc.models.map((m: { name: string }) => m.name)).toEqual(["ssd_mobilenet_v2", "efficientdet_d0"]);
  expect(doc.models[0].images[0].detections).toHaveLength(2);
  expect(stable(doc)).toEqual(stable(JSON.parse(viaShim.stdout)));
});

it("odapi bench writes its report and histogram, as --bench does", async () => {
  const out = tmp();
  const r = await odapi([
    "bench",
    "--url",
    fake.url,
    "--requests",
    "6",
    "--concurrency",
    "2",
    "--out",
    out,
    "--json",
  ]);
  expect(r.code).toBe(0);
  const doc = JSON.parse(r.stdout);
  expect(doc).toMatchObject({ ok: true, mode: "bench", interrupted: false });
  expect(doc.models[0].bench.ok).toBe(6);
  expect(existsSync(doc.report)).toBe(true);
  expect(existsSync(doc.histogram)).toBe(true);
});

it("each command takes only its own flags; the shim keeps every flag", async () => {
  const detect = await odapi(["detect", "--url", fake.url, "--requests", "5"]);
  expect(detect.code).toBe(ExitCode.usage);
  expect(detect.stderr.split("\n")[0]).toBe("error: Unknown argument: requests");
  const bench = await odapi(["bench", "--url", fake.url, "--bench"]);
  expect(bench.code).toBe(ExitCode.usage);
  expect(bench.stderr.split("\n")[0]).toBe("error: Unknown argument: bench");
  const badLoad = await odapi(["bench", "--url", fake.url, "--concurrency", "0"]);
  expect(badLoad.code).toBe(ExitCode.usage);
  expect(badLoad.stderr.split("\n")[0]).toBe("error: --concurrency must be a whole number ≥ 1, got 0");
  const shim = await runClient(["--url", fake.url, "--url", fake.url, "--json"]);
  expect(shim.code).toBe(ExitCode.usage);
  expect(shim.stderr.split("\n")[0]).toBe(
    `error: --url was given 2 times (${fake.url}, ${fake.url}); it takes one value`,
  );
  expect(JSON.parse(shim.stdout)).toEqual({
    ok: false,
    error: { message: expect.stringContaining("--url"), remedy: "pass --url once", exitCode: ExitCode.usage },
  });
});
