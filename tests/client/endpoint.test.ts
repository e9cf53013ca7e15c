// The real test-endpoint.mjs against a local server speaking TF Serving's REST contract.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Jimp } from "jimp";
import { decodeImage } from "../../client/present/decode";
import { ExitCode } from "../../common/errors";
import { FAKE_DETECTIONS, type FakeServing, startFakeTfServing } from "../helpers/fake-tf-serving";
import { makeTempDir, removeDir, tempDirPerTest } from "../helpers/tmp";
import { BROKEN_JPEG, ROOT, runClient } from "./run-client";

const ASTRONAUT = path.join(ROOT, "samples/astronaut.jpg");
const KEY = "test-key-0123456789abcdef";

let fake: FakeServing;
const tmp = tempDirPerTest("odapi-client-");

beforeAll(async () => {
  fake = await startFakeTfServing({
    models: [
      "ssd_mobilenet_v2",
      "efficientdet_d0",
      { name: "raw_model", inputDtype: "DT_UINT8" },
      { name: "loading_model", state: "LOADING" },
    ],
  });
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.requests.length = 0;
});

function expectedBox(i: number, width: number, height: number) {
  const [ymin, xmin, ymax, xmax] = FAKE_DETECTIONS[i].box;
  return {
    left: Math.round(xmin * width),
    top: Math.round(ymin * height),
    right: Math.round(xmax * width),
    bottom: Math.round(ymax * height),
  };
}

describe("detections", () => {
  it("prints a labelled table with pixel boxes and writes an annotated copy (bare command, via npx zx)", async () => {
    const r = await runClient(["--url", fake.url], { cwd: tmp(), viaZx: true });
    expect(r.code).toBe(0);
    const p = expectedBox(0, 512, 512);
    const d = expectedBox(1, 512, 512);
    expect(r.stdout).toContain(
      "samples/astronaut.jpg  512×512 jpeg → ssd_mobilenet_v2: 2 of 3 detections ≥ 0.50",
    );
    expect(r.stdout).toMatch(
      new RegExp(
        `│ 1 │ person \\(1\\) +│ 0\\.910 │ \\(${p.left}, ${p.top}\\) → \\(${p.right}, ${p.bottom}\\) +│ +154×256 │`,
      ),
    );
    expect(r.stdout).toMatch(
      new RegExp(`│ 2 │ dog \\(18\\) +│ 0\\.750 │ \\(${d.left}, ${d.top}\\) → \\(${d.right}, ${d.bottom}\\)`),
    );
    expect(r.stdout).not.toContain("car (3)"); // 0.30 is below the default --min-score 0.5
    expect(r.stdout).toContain("annotated → out/astronaut.ssd_mobilenet_v2.png");
    expect(r.stdout).toMatch(
      /\n✔ 1 image\(s\) × 1 model\(s\): 2 detection\(s\) shown, mean \d+ ms per request; annotated copies in out\n$/,
    );
    expect(readdirSync(path.join(tmp(), "out"))).toEqual(["astronaut.ssd_mobilenet_v2.png"]);
    // Status and metadata are checked before predicting.
    expect(fake.requests.map((q) => `${q.method} ${q.path}`)).toEqual([
      "GET /v1/models/ssd_mobilenet_v2",
      "GET /v1/models/ssd_mobilenet_v2/metadata",
      "POST /v1/models/ssd_mobilenet_v2:predict",
    ]);
  });

  it("draws boxes inside the detected areas and leaves the rest of the picture untouched", async () => {
    const r = await runClient(["--url", fake.url, "--image", ASTRONAUT, "--out", tmp()]);
    expect(r.code).toBe(0);
    const original = await decodeImage(readFileSync(ASTRONAUT));
    const annotated = await decodeImage(readFileSync(path.join(tmp(), "astronaut.ssd_mobilenet_v2.png")));
    expect([annotated.bitmap.width, annotated.bitmap.height]).toEqual([512, 512]);
    const px = (img: typeof original, x: number, y: number) => img.getPixelColor(x, y);
    const p = expectedBox(0, 512, 512);
    const d = expectedBox(1, 512, 512);
    // Every pixel of the box outlines changed (left edge and bottom edge of each box).
    for (const b of [p, d]) {
      for (let y = b.top + 30; y < b.bottom; y += 7)
        expect(px(annotated, b.left, y)).not.toBe(px(original, b.left, y));
      for (let x = b.left; x < b.right; x += 7)
        expect(px(annotated, x, b.bottom - 1)).not.toBe(px(original, x, b.bottom - 1));
    }
    // The below-threshold car box at the top-left corner is not drawn, nor anything far from the boxes.
    for (const [x, y] of [
      [2, 2],
      [50, 50],
      [20, 400],
      [60, 500],
      [500, 10],
      [300, 30],
      [p.left + 40, p.top + 60], // inside the person box, away from its edges
    ]) {
      expect(px(annotated, x, y)).toBe(px(original, x, y));
    }
  });

  it("prints one JSON document with label names, scores and pixel boxes for every image of a directory", async () => {
    const dir = path.join(tmp(), "imgs");
    require("node:fs").mkdirSync(dir);
    const png = new Jimp({ width: 200, height: 100, color: 0x2080c0ff });
    writeFileSync(path.join(dir, "blue.png"), await png.getBuffer("image/png"));
    writeFileSync(path.join(dir, "notes.txt"), "ignored: not an image extension");
    writeFileSync(path.join(dir, "coffee.jpg"), readFileSync(path.join(ROOT, "samples/coffee.jpg")));
    const r = await runClient([
      "--url",
      fake.url,
      "--image",
      dir,
      "--model",
      "ssd_mobilenet_v2",
      "efficientdet_d0",
      "--min-score",
      "0.2",
      "--out",
      path.join(tmp(), "o"),
      "--json",
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(true);
    expect(doc.minScore).toBe(0.2);
    expect(doc.models.map((m: { name: string }) => m.name)).toEqual(["ssd_mobilenet_v2", "efficientdet_d0"]);
    const [blue, coffee] = doc.models[1].images;
    expect(blue).toMatchObject({
      path: path.join(dir, "blue.png"),
      format: "png",
      width: 200,
      height: 100,
      total: 3,
    });
    expect(coffee).toMatchObject({ format: "jpeg", width: 600, height: 400 });
    expect(blue.detections).toEqual([
      { classId: 1, label: "person", score: 0.91, box: expectedBox(0, 200, 100) },
      { classId: 18, label: "dog", score: 0.75, box: expectedBox(1, 200, 100) },
      { classId: 3, label: "car", score: 0.3, box: expectedBox(2, 200, 100) },
    ]);
    expect(coffee.detections[0].box).toEqual({ left: 120, top: 40, right: 300, bottom: 240 });
    expect(blue.annotated).toBe(path.join(tmp(), "o", "blue.efficientdet_d0.png"));
    expect(readdirSync(path.join(tmp(), "o")).sort()).toEqual([
      "blue.efficientdet_d0.png",
      "blue.ssd_mobilenet_v2.png",
      "coffee.efficientdet_d0.png",
      "coffee.ssd_mobilenet_v2.png",
    ]);
    expect(fake.predictCalls.get("efficientdet_d0")).toBeGreaterThanOrEqual(2);
  });

  it("compares several models side by side", async () => {
    const r = await runClient([
      "--url",
      fake.url,
      "--model",
      "ssd_mobilenet_v2",
      "efficientdet_d0",
      "--out",
      tmp(),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("[1/2] ");
    expect(r.stdout).toContain("[2/2] ");
    expect(r.stdout).toMatch(/models side by side\n.*\n│ image +│ ssd_mobilenet_v2 +│ efficientdet_d0 +│/);
    expect(r.stdout).toMatch(
      /│ samples\/astronaut\.jpg │ 2 · person 0\.91 · \d+ ms +│ 2 · person 0\.91 · \d+ ms +│/,
    );
  });

  it("prints complete --help", async () => {
    const r = await runClient(["--help"]);
    expect(r.code).toBe(0);
    for (const flag of [
      "--stack",
      "--url",
      "--api-key",
      "--model",
      "--image",
      "--min-score",
      "--out",
      "--json",
      "--bench",
      "--requests",
      "--concurrency",
      "--warmup",
      "--timeout",
    ]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toContain("ODAPI_API_KEY");
    expect(r.stdout).toContain("9 unknown model (404)");
  });
});

const firstLine = (s: string) => s.split("\n")[0];

describe("errors: one line, own exit code", () => {
  it("unreachable host", async () => {
    const closed = http.createServer();
    await new Promise<void>((res) => closed.listen(0, "127.0.0.1", res));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((res) => closed.close(res));
    const r = await runClient(["--url", `http://127.0.0.1:${port}`, "--out", tmp()]);
    expect(r.code).toBe(ExitCode.unreachable);
    expect(firstLine(r.stderr)).toBe(`error: cannot reach http://127.0.0.1:${port} (ECONNREFUSED)`);
    expect(r.stderr).toContain("fix: check that the server is running");
  });

  it("timeout", async () => {
    // A server that accepts and never answers.
    const silent = http.createServer(() => {});
    await new Promise<void>((res) => silent.listen(0, "127.0.0.1", res));
    const port = (silent.address() as AddressInfo).port;
    try {
      const r = await runClient(["--url", `http://127.0.0.1:${port}`, "--timeout", "300", "--out", tmp()]);
      expect(r.code).toBe(ExitCode.timeout);
      expect(firstLine(r.stderr)).toBe(
        `error: no answer from http://127.0.0.1:${port}/v1/models/ssd_mobilenet_v2 within 300 ms`,
      );
    } finally {
      silent.closeAllConnections();
      await new Promise((res) => silent.close(res));
    }
  });

  it("unknown model (404) shows TF Serving's message", async () => {
    const r = await runClient(["--url", fake.url, "--model", "nope", "--out", tmp()]);
    expect(r.code).toBe(ExitCode.notFound);
    expect(firstLine(r.stderr)).toBe(
      `error: model "nope" not found on ${fake.url} (404): Could not find any versions of model nope`,
    );
  });

  it("an image the server cannot decode (400) shows the server's message, naming the file", async () => {
    const file = path.join(tmp(), "broken.jpg");
    writeFileSync(file, BROKEN_JPEG);
    const r = await runClient(["--url", fake.url, "--image", file, "--out", tmp()]);
    expect(r.code).toBe(ExitCode.badRequest);
    expect(firstLine(r.stderr).startsWith(`error: ${file}: `)).toBe(true);
    expect(firstLine(r.stderr).slice(`error: ${file}: `.length)).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+ rejected the predict request for model "ssd_mobilenet_v2" \(400\): Unknown image file format\. One of JPEG, PNG, GIF, BMP required\./,
    );
    expect(readdirSync(tmp())).toEqual(["broken.jpg"]); // no annotated file for a failed request
  });

  it("a truncated JPEG among good ones is named, the others are still detected, and the run exits non-zero", async () => {
    const whole = readFileSync(path.join(ROOT, "samples/coffee.jpg"));
    const cut = path.join(tmp(), "cut.jpg");
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const good = path.join(ROOT, "samples/chelsea.jpg");
    const out = path.join(tmp(), "out");
    const r = await runClient([
      "--url",
      fake.url,
      "--model",
      "ssd_mobilenet_v2",
      "efficientdet_d0",
      "--image",
      cut,
      good,
      "--out",
      out,
      "--json",
    ]);
    expect(r.code).toBe(ExitCode.badRequest);
    expect(firstLine(r.stderr)).toMatch(new RegExp(`^error: ${cut}: .*\\(400\\): Unknown image file format`));
    expect(r.stderr).toContain("1 image(s) refused by the server");
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(false);
    expect(doc.refused).toHaveLength(1);
    expect(doc.refused[0]).toContain(cut);
    // Both models still detected on the good image; the refused one is not sent to the second model.
    for (const m of doc.models) expect(m.images.map((i: { path: string }) => i.path)).toEqual([good]);
    expect(readdirSync(out).sort()).toEqual(["chelsea.efficientdet_d0.png", "chelsea.ssd_mobilenet_v2.png"]);
  });

  it("a file that is not an image never reaches the server", async () => {
    const file = path.join(tmp(), "report.pdf");
    writeFileSync(file, "%PDF-1.7\n");
    const r = await runClient(["--url", fake.url, "--image", file, "--out", tmp(), "--json"]);
    expect(r.code).toBe(ExitCode.notAnImage);
    expect(firstLine(r.stderr)).toBe(
      `error: ${file} is not an image (expected JPEG, PNG, GIF or BMP; first bytes: 255044462d312e37)`,
    );
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      error: {
        message: expect.stringContaining("is not an image"),
        remedy: expect.any(String),
        exitCode: ExitCode.notAnImage,
      },
    });
    expect(fake.requests).toHaveLength(0);
  });

  it("a model that only takes tensors points to odapi prepare", async () => {
    const r = await runClient(["--url", fake.url, "--model", "raw_model", "--out", tmp()]);
    expect(r.code).toBe(ExitCode.config);
    expect(firstLine(r.stderr)).toBe(
      'error: model "raw_model" only takes tensors (serving_default: input_tensor DT_UINT8), not encoded images',
    );
    expect(r.stderr).toContain("odapi prepare");
    expect(fake.predictCalls.get("raw_model")).toBeUndefined();
  });

  it("a model that is still loading", async () => {
    const r = await runClient(["--url", fake.url, "--model", "loading_model", "--out", tmp()]);
    expect(r.code).toBe(ExitCode.serverError);
    expect(firstLine(r.stderr)).toBe(
      'error: model "loading_model" has no AVAILABLE version: version 1 LOADING',
    );
  });

  it("bad flags are usage errors", async () => {
    const r1 = await runClient(["--url", fake.url, "--min-score", "2"]);
    expect(r1.code).toBe(ExitCode.usage);
    expect(firstLine(r1.stderr)).toBe("error: --min-score must be between 0 and 1, got 2");
    const r2 = await runClient(["--url", fake.url, "--frobnicate"]);
    expect(r2.code).toBe(ExitCode.usage);
    expect(firstLine(r2.stderr)).toBe("error: Unknown argument: frobnicate");
    const r3 = await runClient(["--url", fake.url, "--bench", "--concurrency", "0"]);
    expect(r3.code).toBe(ExitCode.usage);
    expect(firstLine(r3.stderr)).toBe("error: --concurrency must be a whole number ≥ 1, got 0");
  });

  it("--wait waits for the models first and gives up at its deadline naming the last state", async () => {
    const r = await runClient(["--url", fake.url, "--model", "loading_model", "--wait", "1", "--out", tmp()]);
    expect(r.code).toBe(ExitCode.timeout);
    expect(firstLine(r.stderr)).toMatch(/loading_model: version 1 LOADING/);
    expect(r.stderr).toContain(
      "error: model loading_model was not AVAILABLE within 1 s (last: version 1 LOADING)",
    );
    const bad = await runClient(["--url", fake.url, "--wait", "-1"]);
    expect(bad.code).toBe(ExitCode.usage);
    expect(firstLine(bad.stderr)).toBe("error: --wait must be 0 or more seconds, got -1");
  });
});

describe("API key gateway", () => {
  let gated: FakeServing;
  beforeAll(async () => {
    gated = await startFakeTfServing({ models: ["ssd_mobilenet_v2"], apiKey: KEY });
  });
  afterAll(() => gated.close());

  it("a missing or wrong key is an auth error", async () => {
    const r = await runClient(["--url", gated.url, "--out", tmp()]);
    expect(r.code).toBe(ExitCode.auth);
    expect(firstLine(r.stderr)).toBe(
      `error: ${gated.url} answered 401 (missing or wrong API key): missing or wrong API key: send it in the X-API-Key header`,
    );
    const wrong = await runClient(["--url", gated.url, "--api-key", "wrong-key-0123456789", "--out", tmp()]);
    expect(wrong.code).toBe(ExitCode.auth);
  });

  it("sends the key from --api-key or ODAPI_API_KEY in X-API-Key", async () => {
    gated.requests.length = 0;
    const flag = await runClient(["--url", gated.url, "--api-key", KEY, "--out", tmp()]);
    expect(flag.code).toBe(0);
    const env = await runClient(["--url", gated.url, "--out", tmp(), "--json"], {
      env: { ODAPI_API_KEY: KEY },
    });
    expect(env.code).toBe(0);
    expect(JSON.parse(env.stdout).models[0].images[0].detections).toHaveLength(2);
    expect(gated.requests).toHaveLength(6);
    expect(gated.requests.every((q) => q.apiKey === KEY)).toBe(true);
  });
});

describe("Pulumi stack outputs", () => {
  let gated: FakeServing;
  let bin: string;
  beforeAll(async () => {
    gated = await startFakeTfServing({ models: ["ssd_mobilenet_v2", "efficientdet_d0"], apiKey: KEY });
    // The Pulumi CLI cannot run here: a stand-in executable answers exactly the documented command.
    bin = makeTempDir("odapi-pulumi-");
    const outputs = JSON.stringify({
      apiUrl: gated.url,
      models: ["efficientdet_d0"],
      apiKey: KEY,
      instanceId: "i-0123",
    });
    writeFileSync(
      path.join(bin, "pulumi"),
      `#!/bin/sh\nif [ "$*" = "stack output --json --show-secrets -s cpu" ]; then echo '${outputs}'; exit 0; fi\n` +
        `echo "error: no stack named '$6' found" >&2; exit 255\n`,
      { mode: 0o755 },
    );
  });
  afterAll(async () => {
    await gated.close();
    removeDir(bin);
  });

  it("reads apiUrl, models and apiKey from the stack", async () => {
    const r = await runClient(["--out", tmp(), "--json"], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.source).toBe("stack cpu");
    expect(doc.url).toBe(gated.url);
    expect(doc.models.map((m: { name: string }) => m.name)).toEqual(["efficientdet_d0"]);
  });

  it("a missing stack", async () => {
    const r = await runClient(["--stack", "gpu", "--out", tmp()], {
      env: { PATH: `${bin}:${process.env.PATH}` },
    });
    expect(r.code).toBe(ExitCode.config);
    expect(r.stderr.split("\n")[0]).toBe(
      "error: Pulumi stack \"gpu\" does not exist: error: no stack named 'gpu' found",
    );
  });

  it("no pulumi CLI", async () => {
    const r = await runClient(["--out", tmp()], { env: { PATH: "/nonexistent" } });
    expect(r.code).toBe(ExitCode.missingTool);
    expect(r.stderr.split("\n")[0]).toBe(
      "error: the pulumi CLI is not installed (it reads the stack's apiUrl, models and apiKey)",
    );
    expect(r.stderr).toContain("--url");
  });
});
