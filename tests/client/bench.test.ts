// Bench mode of the real script against a server with a known per-request delay.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { decodeImage } from "../../client/present/decode";
import { seriesColor } from "../../client/present/histogram";
import { ExitCode } from "../../common/errors";
import { type FakeServing, startFakeTfServing } from "../helpers/fake-tf-serving";
import { tempDirPerTest } from "../helpers/tmp";
import { BROKEN_JPEG, ROOT, runClient } from "./run-client";

const DELAY_MS = 40;
let fake: FakeServing;
const tmp = tempDirPerTest("odapi-bench-");

beforeAll(async () => {
  fake = await startFakeTfServing({ models: ["ssd_mobilenet_v2", "efficientdet_d0"], delayMs: DELAY_MS });
});
afterAll(() => fake.close());

it("measures latency percentiles over keep-alive connections and compares models side by side", async () => {
  const requests = 24;
  const concurrency = 4;
  const r = await runClient([
    "--url",
    fake.url,
    "--model",
    "ssd_mobilenet_v2",
    "efficientdet_d0",
    "--bench",
    "--requests",
    String(requests),
    "--concurrency",
    String(concurrency),
    "--warmup",
    "3",
    "--out",
    tmp(),
    "--json",
  ]);
  expect(r.code).toBe(0);
  const doc = JSON.parse(r.stdout);
  expect(doc.ok).toBe(true);
  expect(doc.models.map((m: { name: string }) => m.name)).toEqual(["ssd_mobilenet_v2", "efficientdet_d0"]);
  for (const m of doc.models) {
    const b = m.bench;
    expect(b).toMatchObject({ requests, concurrency, warmup: 3, ok: requests, errors: 0, errorSamples: [] });
    const l = b.latencyMs;
    expect(l.count).toBe(requests);
    // Every request waits for the server's delay, so no latency can be below it.
    expect(l.min).toBeGreaterThanOrEqual(DELAY_MS);
    expect(l.p50).toBeGreaterThanOrEqual(DELAY_MS);
    expect(l.min).toBeLessThanOrEqual(l.p50);
    expect(l.p50).toBeLessThanOrEqual(l.p95);
    expect(l.p95).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.max);
    expect(l.mean).toBeGreaterThanOrEqual(l.min);
    expect(l.mean).toBeLessThanOrEqual(l.max);
    // C requests in flight, each taking ≥ DELAY_MS: throughput cannot exceed C / DELAY_MS.
    expect(b.requestsPerSecond).toBeLessThanOrEqual((concurrency * 1000) / DELAY_MS);
    expect(b.requestsPerSecond).toBeCloseTo(requests / b.seconds, 6);
    expect(b.seconds).toBeGreaterThanOrEqual(((requests / concurrency) * DELAY_MS) / 1000);
    expect(fake.predictCalls.get(m.name)).toBe(requests + 3);
  }
  // Never more than C in flight, and connections are reused (one per worker plus one for status/metadata).
  expect(fake.maxInFlight).toBeLessThanOrEqual(concurrency);
  expect(fake.maxInFlight).toBeGreaterThan(1);
  // Without keep-alive this would be one per request (2 × 27 predicts + 4 checks); 2 leaves room for the
  // server closing the idle check connection on a very slow machine.
  expect(fake.connections).toBeLessThanOrEqual(2 + 2 * concurrency);

  const files = readdirSync(tmp()).sort();
  expect(files).toHaveLength(2);
  expect(files[0]).toMatch(/^bench-.*\.json$/);
  expect(path.join(tmp(), files[0])).toBe(doc.report);
  expect(path.join(tmp(), files[1])).toBe(doc.histogram);
  const report = JSON.parse(readFileSync(doc.report, "utf8"));
  expect(report.latenciesMs.ssd_mobilenet_v2).toHaveLength(requests);
  expect(Math.min(...report.latenciesMs.efficientdet_d0)).toBe(doc.models[1].bench.latencyMs.min);

  // The histogram picture has a bar colour per model.
  const png = await decodeImage(readFileSync(doc.histogram));
  expect([png.bitmap.width, png.bitmap.height]).toEqual([900, 480]);
  const seen = new Set<string>();
  const d = png.bitmap.data;
  for (let i = 0; i < d.length; i += 4) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
  expect(seen.has(seriesColor(0).join(","))).toBe(true);
  expect(seen.has(seriesColor(1).join(","))).toBe(true);
});

it("prints a comparison table", async () => {
  const r = await runClient([
    "--url",
    fake.url,
    "--model",
    "ssd_mobilenet_v2",
    "efficientdet_d0",
    "--bench",
    "--requests",
    "8",
    "--concurrency",
    "2",
    "--out",
    tmp(),
  ]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(
    /│ model +│ +ok │ errors │ +req\/s │ images\/s │ p50 ms │ p95 ms │ p99 ms │ mean ms │ max ms │/,
  );
  expect(r.stdout).toMatch(/│ ssd_mobilenet_v2 │ +8 │ +0 │/);
  expect(r.stdout).toMatch(/│ efficientdet_d0 +│ +8 │ +0 │/);
  expect(r.stdout).toMatch(/report → .*bench-.*\.json\nhistogram → .*bench-.*\.png/);
});

it("--batch sends several images per request and counts images/s accordingly", async () => {
  const before = fake.predictImages.get("efficientdet_d0") ?? 0;
  const calls = fake.predictCalls.get("efficientdet_d0") ?? 0;
  const r = await runClient([
    "--url",
    fake.url,
    "--model",
    "efficientdet_d0",
    "--bench",
    "--requests",
    "6",
    "--concurrency",
    "2",
    "--warmup",
    "1",
    "--batch",
    "3",
    "--image",
    path.join(ROOT, "samples"),
    "--out",
    tmp(),
    "--json",
  ]);
  expect(r.code).toBe(0);
  const b = JSON.parse(r.stdout).models[0].bench;
  expect(b.imagesPerRequest).toBe(3);
  expect(b.imagesPerSecond).toBeCloseTo(3 * b.requestsPerSecond, 6);
  expect((fake.predictCalls.get("efficientdet_d0") ?? 0) - calls).toBe(7);
  expect((fake.predictImages.get("efficientdet_d0") ?? 0) - before).toBe(21);
});

it("Ctrl-C stops the run, and the report of what was measured is still written", async () => {
  const calls = () => fake.predictCalls.get("ssd_mobilenet_v2") ?? 0;
  const before = calls();
  const r = await runClient(
    [
      "--url",
      fake.url,
      "--bench",
      "--requests",
      "100000",
      "--concurrency",
      "2",
      "--warmup",
      "1",
      "--out",
      tmp(),
      "--json",
    ],
    {
      onSpawn: (child) => {
        // Interrupt once measured requests are flowing (the handler is installed by then).
        const poll = setInterval(() => {
          if (calls() - before >= 6) {
            clearInterval(poll);
            child.kill("SIGINT");
          }
        }, 20);
        child.once("exit", () => clearInterval(poll));
      },
    },
  );
  expect(r.code).toBe(130);
  const doc = JSON.parse(r.stdout);
  expect(doc.interrupted).toBe(true);
  expect(doc.ok).toBe(false);
  const b = doc.models[0].bench;
  expect(b.interrupted).toBe(true);
  expect(b.ok).toBeGreaterThanOrEqual(5);
  expect(b.ok).toBeLessThan(100000);
  expect(b.ok).toBe(calls() - before - 1); // every measured request is accounted for (minus the warm-up)
  expect(readdirSync(tmp()).sort()).toEqual([path.basename(doc.report), path.basename(doc.histogram)]);
  expect(r.stderr).toContain("interrupted: finishing the requests in flight");
});

it("stops with the server's error when the warm-up fails", async () => {
  const file = path.join(tmp(), "broken.jpg");
  writeFileSync(file, BROKEN_JPEG);
  const r = await runClient([
    "--url",
    fake.url,
    "--bench",
    "--requests",
    "5",
    "--image",
    file,
    "--out",
    tmp(),
  ]);
  expect(r.code).toBe(ExitCode.badRequest);
  expect(r.stderr.split("\n")[0]).toContain("(400): Unknown image file format");
});

it("a truncated JPEG is named and left out: the run goes on with the other images and exits non-zero", async () => {
  const whole = readFileSync(path.join(ROOT, "samples/coffee.jpg"));
  const cut = path.join(tmp(), "cut.jpg");
  writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
  const good = path.join(ROOT, "samples/chelsea.jpg");
  const r = await runClient([
    "--url",
    fake.url,
    "--bench",
    "--requests",
    "6",
    "--concurrency",
    "2",
    "--warmup",
    "2",
    "--image",
    cut,
    good,
    "--out",
    tmp(),
    "--json",
  ]);
  expect(r.code).toBe(ExitCode.badRequest);
  expect(r.stderr).toMatch(new RegExp(`error: ${cut}: .*\\(400\\): Unknown image file format`));
  expect(r.stderr).toContain("1 image request(s) refused by the server");
  const doc = JSON.parse(r.stdout);
  expect(doc.ok).toBe(false);
  expect(doc.refused).toEqual([expect.stringContaining(cut)]);
  // Every measured request went with the good image.
  expect(doc.models[0].bench).toMatchObject({ ok: 6, errors: 0 });
});

describe("only detection answers count as successes", () => {
  it.each([
    [
      "an HTML page",
      "<html><body>Welcome to nginx!</body></html>",
      /answered 200 with a body that is not JSON/,
    ],
    ["JSON without predictions", '{"status":"ok"}', /unexpected predict response: no "predictions" list/],
    [
      "predictions of the wrong shape",
      '{"predictions":[{"scores":[0.5]}]}',
      /unexpected predict response: detection_scores of image 0 is not a list of numbers/,
    ],
  ])("a 200 with %s fails the run", async (_what, body, message) => {
    const page = await startFakeTfServing({ models: ["ssd_mobilenet_v2"], predictAnswer: body });
    try {
      const r = await runClient([
        "--url",
        page.url,
        "--bench",
        "--requests",
        "4",
        "--warmup",
        "0",
        "--out",
        tmp(),
        "--json",
      ]);
      expect(r.code).toBe(ExitCode.serverError);
      const b = JSON.parse(r.stdout).models[0].bench;
      expect(b).toMatchObject({ ok: 0, errors: 4 });
      expect(b.errorSamples[0].message).toMatch(message);
      expect(page.predictCalls.get("ssd_mobilenet_v2")).toBe(4);
    } finally {
      await page.close();
    }
  });
});
