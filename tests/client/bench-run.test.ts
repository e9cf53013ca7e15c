// runBench in-process: stopping early, and errors counted instead of thrown after the warm-up.
import { runBench } from "../../client/bench";
import { predictRequestBody } from "../../client/request";
import { ExitCode } from "../../common/errors";
import { type FakeServing, startFakeTfServing } from "../helpers/fake-tf-serving";

const PNG_1PX = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
let fake: FakeServing;
beforeAll(async () => {
  fake = await startFakeTfServing({ models: ["m"], delayMs: 20 });
});
afterAll(() => fake.close());

it("stops issuing requests when aborted and reports what was measured", async () => {
  const stop = new AbortController();
  const r = await runBench({
    baseUrl: fake.url,
    model: "m",
    bodies: [JSON.stringify(predictRequestBody([PNG_1PX]))],
    requests: 1000,
    concurrency: 2,
    warmup: 0,
    signal: stop.signal,
    onProgress: (done) => {
      if (done === 3) stop.abort();
    },
  });
  expect(r.interrupted).toBe(true);
  // Aborted after the 3rd answer: at most the one other request already in flight completes.
  expect(r.ok).toBeGreaterThanOrEqual(3);
  expect(r.ok).toBeLessThanOrEqual(4);
  expect(r.latencyMs.count).toBe(r.ok);
  expect(fake.predictCalls.get("m")).toBe(r.ok);
});

it("counts failed requests by message once the warm-up passed", async () => {
  const good = JSON.stringify(predictRequestBody([PNG_1PX]));
  const bad = JSON.stringify({ instances: [{ b64: "not base64!" }] });
  const r = await runBench({
    baseUrl: fake.url,
    model: "m",
    bodies: [good, bad], // request i sends bodies[i % 2]: the warm-up (i = 0) is good, then every other one fails
    requests: 10,
    concurrency: 1,
    warmup: 1,
  });
  expect(r.interrupted).toBe(false);
  expect(r.ok).toBe(5);
  expect(r.errors).toBe(5);
  expect(r.errorSamples).toHaveLength(1);
  expect(r.errorSamples[0].count).toBe(5);
  expect(r.errorSamples[0].exitCode).toBe(ExitCode.badRequest);
  expect(r.errorSamples[0].message).toContain("not formatted correctly for base64 data");
});
