import { readFileSync } from "node:fs";
import path from "node:path";
import { Jimp } from "jimp";
import { parseArgs, resolveTarget, withScheme } from "../../cli/client";
import { batchBodies, checkBenchNumbers, countErrors } from "../../client/bench";
import { labelDetections, parseDetections, tableRows, toPixelBox } from "../../client/detections";
import { imageEntries, imageInfo, sniffFormat } from "../../client/image";
import { classColor, drawingPlan, fontNameFor, strokeFor } from "../../client/present/annotate";
import { histogramPlan } from "../../client/present/histogram";
import {
  annotatedName,
  comparisonRows,
  type DetectReport,
  progressPrefix,
  stamp,
  uniqueName,
} from "../../client/present/report";
import { parseStackOutputs, stackCommandError, stackOutputArgv } from "../../client/stack";
import { histogramBins, niceStep, summarize } from "../../client/stats";
import { ExitCode, OdapiError } from "../../common/errors";
import { percentile } from "../../common/stats";
import { clientOptions } from "../helpers/client-options";
import { thrown } from "../helpers/errors";

const SAMPLES = path.join(__dirname, "../../samples");

describe("parseDetections", () => {
  const row = {
    detection_boxes: [
      [0.1, 0.2, 0.6, 0.5],
      [0.5, 0.5, 0.9, 0.9],
      [0, 0, 0, 0],
    ],
    detection_scores: [0.9, 0.4, 0],
    detection_classes: [1.0, 18.0, 0],
    num_detections: 2.0,
  };
  it("honours num_detections and rounds float class ids", () => {
    expect(parseDetections({ predictions: [row] }, 1)).toEqual([
      [
        { classId: 1, score: 0.9, box: [0.1, 0.2, 0.6, 0.5] },
        { classId: 18, score: 0.4, box: [0.5, 0.5, 0.9, 0.9] },
      ],
    ]);
  });
  it("rejects a response that does not match the prepared signature", () => {
    expect(() => parseDetections({ outputs: {} }, 1)).toThrow('no "predictions" list');
    expect(() => parseDetections({ predictions: [row, row] }, 1)).toThrow("2 predictions for 1 images");
    expect(() => parseDetections({ predictions: [[1, 2]] }, 1)).toThrow(/detection_scores of image 0/);
    expect(thrown(() => parseDetections({ predictions: [1] }, 1)).exitCode).toBe(ExitCode.serverError);
  });
});

describe("pixel boxes", () => {
  it("converts normalised [ymin, xmin, ymax, xmax] with the image's width and height", () => {
    expect(toPixelBox([0.1, 0.2, 0.6, 0.5], 600, 400)).toEqual({
      left: 120,
      top: 40,
      right: 300,
      bottom: 240,
    });
    expect(toPixelBox([0.5, 0.55, 0.9, 0.95], 451, 300)).toEqual({
      left: 248,
      top: 150,
      right: 428,
      bottom: 270,
    });
  });
  it("clamps boxes that stick out of the image", () => {
    expect(toPixelBox([-0.1, -0.2, 1.3, 1.01], 100, 50)).toEqual({ left: 0, top: 0, right: 100, bottom: 50 });
  });
  it("filters by min score (inclusive), sorts best first and names the class", () => {
    const dets = [
      { classId: 3, score: 0.3, box: [0, 0, 0.2, 0.2] as [number, number, number, number] },
      { classId: 18, score: 0.75, box: [0.5, 0.55, 0.9, 0.95] as [number, number, number, number] },
      { classId: 1, score: 0.5, box: [0.1, 0.2, 0.6, 0.5] as [number, number, number, number] },
    ];
    const out = labelDetections(dets, { width: 600, height: 400 }, 0.5);
    expect(out.map((d) => d.label)).toEqual(["dog", "person"]);
    expect(tableRows(out)).toEqual([
      ["1", "dog (18)", "0.750", "(330, 200) → (570, 360)", "240×160"],
      ["2", "person (1)", "0.500", "(120, 40) → (300, 240)", "180×200"],
    ]);
    expect(labelDetections(dets, { width: 600, height: 400 }, 0)).toHaveLength(3);
  });
});

describe("image files", () => {
  it("reads format and size from the header of the shipped samples", () => {
    expect(imageInfo(readFileSync(path.join(SAMPLES, "astronaut.jpg")))).toEqual({
      format: "jpeg",
      width: 512,
      height: 512,
    });
    expect(imageInfo(readFileSync(path.join(SAMPLES, "chelsea.jpg")))).toEqual({
      format: "jpeg",
      width: 451,
      height: 300,
    });
    expect(imageInfo(readFileSync(path.join(SAMPLES, "coffee.jpg")))).toEqual({
      format: "jpeg",
      width: 600,
      height: 400,
    });
  });
  it("reads PNG, BMP and GIF sizes", async () => {
    const img = new Jimp({ width: 37, height: 21, color: 0x336699ff });
    for (const mime of ["image/png", "image/bmp", "image/gif"] as const) {
      const info = imageInfo(await img.getBuffer(mime));
      expect(info).toEqual({ format: mime.slice(6), width: 37, height: 21 });
    }
  });
  it("refuses text and truncated headers", () => {
    expect(sniffFormat(Buffer.from("hello world"))).toBeUndefined();
    expect(imageInfo(Buffer.from("%PDF-1.7 ..."))).toBeUndefined();
    expect(imageInfo(Buffer.from([0xff, 0xd8, 0xff]))).toBeUndefined();
    expect(imageInfo(Buffer.alloc(0))).toBeUndefined();
  });
  it("keeps only image files of a directory, sorted", () => {
    expect(imageEntries(["b.PNG", "notes.txt", "a.jpg", "c.jpeg", "d.gif", "e.bmp", "f.webp"])).toEqual([
      "a.jpg",
      "b.PNG",
      "c.jpeg",
      "d.gif",
      "e.bmp",
    ]);
  });
});

describe("statistics", () => {
  it("uses nearest-rank percentiles", () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 95)).toBe(95);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile(v, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
  it("summarises unsorted latencies", () => {
    expect(summarize([30, 10, 20, 40])).toEqual({
      count: 4,
      min: 10,
      mean: 25,
      p50: 20,
      p95: 40,
      p99: 40,
      max: 40,
    });
  });
  it("bins several series on one axis with a round bin width", () => {
    expect(niceStep(0.37)).toBe(0.5);
    expect(niceStep(13)).toBe(20);
    expect(niceStep(1)).toBe(1);
    const [a, b] = histogramBins([[10, 11, 19], [30]], 10);
    expect(a.binWidth).toBe(2);
    expect(a.start).toBe(10);
    expect(a.counts.reduce((s, c) => s + c, 0)).toBe(3);
    expect(b.counts.reduce((s, c) => s + c, 0)).toBe(1);
    expect(a.counts).toHaveLength(b.counts.length);
    expect(b.counts[b.counts.length - 1]).toBe(1);
  });
});

describe("drawing plan", () => {
  const text = { lineHeight: 16, width: (t: string) => t.length * 8 };
  const det = (
    classId: number,
    score: number,
    box: { left: number; top: number; right: number; bottom: number },
  ) => ({
    classId,
    label: classId === 1 ? "person" : "dog",
    score,
    box,
  });
  it("puts the label above the box when there is room, inside it at the top edge otherwise", () => {
    const [low, high] = drawingPlan(
      [
        det(1, 0.9, { left: 10, top: 5, right: 100, bottom: 90 }),
        det(18, 0.6, { left: 480, top: 100, right: 512, bottom: 200 }),
      ],
      { width: 512, height: 512 },
      text,
    );
    // Lowest score first so the best box is drawn last (on top).
    expect(low.label).toBe("dog 0.60");
    expect(low.labelBox).toEqual({ left: 512 - (8 * 8 + 4), top: 80, right: 512, bottom: 100 });
    expect(high.label).toBe("person 0.90");
    expect(high.labelBox).toEqual({ left: 10, top: 5, right: 10 + 11 * 8 + 4, bottom: 25 });
    expect(high.textX).toBe(12);
    expect(high.color).toEqual(classColor(1));
    expect(high.color).not.toEqual(classColor(18));
    expect(high.thickness).toBe(strokeFor({ width: 512, height: 512 }));
  });
  it("scales stroke and font with the image", () => {
    expect(strokeFor({ width: 100, height: 100 })).toBe(2);
    expect(strokeFor({ width: 4000, height: 3000 })).toBe(18);
    expect(fontNameFor({ width: 150, height: 150 })).toBe("SANS_8_WHITE");
    expect(fontNameFor({ width: 512, height: 512 })).toBe("SANS_16_WHITE");
    expect(fontNameFor({ width: 4000, height: 3000 })).toBe("SANS_32_WHITE");
  });
});

describe("histogram plan", () => {
  it("draws one bar colour per model and a legend line with its percentiles", () => {
    const s = (name: string, latencies: number[]) => ({ name, latencies, summary: summarize(latencies) });
    const plan = histogramPlan([s("fast", [10, 11, 12, 12]), s("slow", [40, 41])], "t");
    const colours = new Set(plan.rects.map((r) => r.color.join(",")));
    expect(colours.has("0,110,200")).toBe(true);
    expect(colours.has("230,90,30")).toBe(true);
    expect(plan.texts.some((t) => t.text.startsWith("fast: p50 11.0 ms"))).toBe(true);
    expect(plan.texts.some((t) => t.text.startsWith("slow: p50 40.0 ms"))).toBe(true);
    for (const r of plan.rects) {
      expect(r.box.left).toBeGreaterThanOrEqual(0);
      expect(r.box.right).toBeLessThanOrEqual(plan.width);
      expect(r.box.bottom).toBeLessThanOrEqual(plan.height);
    }
  });
});

describe("histogram plan without data", () => {
  it("still lays out axes and a legend when every request failed", () => {
    const plan = histogramPlan([{ name: "m", latencies: [], summary: summarize([]) }], "t");
    expect(plan.texts.find((t) => t.text.startsWith("m:"))?.text).toBe(
      "m: p50 - ms  p95 - ms  p99 - ms  mean - ms  (n=0; lines: p50, p99)",
    );
    expect(plan.histograms[0].counts).toEqual([]);
  });
});

describe("Pulumi stack outputs", () => {
  it("reads outputs with exactly this command", () => {
    expect(stackOutputArgv("gpu").join(" ")).toBe("pulumi stack output --json --show-secrets -s gpu");
  });
  it("narrows the outputs the client needs", () => {
    const json = JSON.stringify({
      apiUrl: "http://1.2.3.4:8501",
      models: ["a", "b"],
      apiKey: "k".repeat(20),
      sshCommand: "ssh …",
    });
    expect(parseStackOutputs(json, "cpu")).toEqual({
      apiUrl: "http://1.2.3.4:8501",
      models: ["a", "b"],
      apiKey: "k".repeat(20),
    });
    expect(
      parseStackOutputs(JSON.stringify({ apiUrl: "http://h", models: ["a"] }), "cpu").apiKey,
    ).toBeUndefined();
  });
  it("says the stack is not deployed when outputs are missing", () => {
    const err = thrown(() => parseStackOutputs("{}", "dev"));
    expect(err.message).toBe(
      "stack dev has no apiUrl output (not deployed yet, or deployed by an older version)",
    );
    expect(err.remedy).toContain("pulumi up -s dev");
    expect(thrown(() => parseStackOutputs("not json", "dev")).exitCode).toBe(ExitCode.config);
  });
  it("tells a missing CLI from a missing stack", () => {
    expect(stackCommandError("cpu", { code: "ENOENT", stderr: "" }).exitCode).toBe(ExitCode.missingTool);
    const missing = stackCommandError("gpu", { code: 255, stderr: "error: no stack named 'gpu' found\n" });
    expect(missing.exitCode).toBe(ExitCode.config);
    expect(missing.message).toBe("Pulumi stack \"gpu\" does not exist: error: no stack named 'gpu' found");
  });
});

describe("flags", () => {
  it("takes --model and --image repeated or space-separated, with the documented defaults", async () => {
    const o = await parseArgs(["--model", "a", "--model", "b", "c", "--image", "p", "q", "--json"], () => {});
    expect(o).toMatchObject({
      models: ["a", "b", "c"],
      images: ["p", "q"],
      json: true,
      stack: "cpu",
      minScore: 0.5,
      out: "out",
      bench: false,
      requests: 100,
      concurrency: 4,
      batch: 1,
      timeoutMs: 30000,
    });
    expect(o?.warmup).toBeUndefined();
  });
});

describe("target resolution", () => {
  const opts = clientOptions;
  const stack = { apiUrl: "http://s:8501", models: ["m1", "m2"], apiKey: "stack-key-0123456789" };
  it("prefers flags, then env, then the stack", () => {
    expect(resolveTarget(opts({}), {}, stack)).toEqual({
      url: "http://s:8501",
      models: ["m1", "m2"],
      apiKey: stack.apiKey,
      source: "stack cpu",
    });
    expect(
      resolveTarget(opts({ url: "http://u", models: ["x"], apiKey: "flag" }), { ODAPI_API_KEY: "env" })
        .apiKey,
    ).toBe("flag");
    expect(resolveTarget(opts({}), { ODAPI_API_KEY: "env" }, stack).apiKey).toBe("env");
  });
  it("adds http:// to a bare host:port", () => {
    expect(withScheme("203.0.113.7:8501")).toBe("http://203.0.113.7:8501");
    expect(withScheme("localhost:8501/api")).toBe("http://localhost:8501/api");
    expect(withScheme("https://h")).toBe("https://h");
    expect(resolveTarget(opts({ url: "h:8501" }), {}).url).toBe("http://h:8501");
  });
  it("defaults to ssd_mobilenet_v2 with --url", () => {
    expect(resolveTarget(opts({ url: "http://u" }), {})).toEqual({
      url: "http://u",
      models: ["ssd_mobilenet_v2"],
      apiKey: undefined,
      source: "--url",
    });
  });
});

describe("bench helpers", () => {
  it("groups failures by message, most frequent first", () => {
    const e = (m: string) => new OdapiError(m, "r", "serverError");
    expect(countErrors([e("a"), e("b"), e("b")])).toEqual([
      { message: "b", exitCode: ExitCode.serverError, count: 2 },
      { message: "a", exitCode: ExitCode.serverError, count: 1 },
    ]);
  });
  it("fills every batch, wrapping around the images", () => {
    expect(batchBodies(["a", "b", "c"], 1)).toEqual([["a"], ["b"], ["c"]]);
    expect(batchBodies(["a", "b", "c"], 2)).toEqual([
      ["a", "b"],
      ["c", "a"],
    ]);
    expect(batchBodies(["a"], 3)).toEqual([["a", "a", "a"]]);
  });
  it("names the bad flag", () => {
    expect(() => checkBenchNumbers({ requests: 5, concurrency: 1, warmup: 0, batch: 0 })).toThrow(
      "--batch must be a whole number ≥ 1, got 0",
    );
    expect(() => checkBenchNumbers({ requests: 0, concurrency: 1, warmup: 0 })).toThrow(
      "--requests must be a whole number ≥ 1, got 0",
    );
    expect(() => checkBenchNumbers({ requests: 5, concurrency: 1.5, warmup: 0 })).toThrow(/--concurrency/);
    expect(() => checkBenchNumbers({ requests: 5, concurrency: 2, warmup: -1 })).toThrow(/--warmup/);
    expect(() => checkBenchNumbers({ requests: 5, concurrency: 2, warmup: 0 })).not.toThrow();
  });
});

describe("models side by side", () => {
  it("shows per image and model the count, the best detection and the time", () => {
    const img = (latencyMs: number, detections: { label: string; score: number }[]) => ({
      path: "a.jpg",
      format: "jpeg" as const,
      width: 10,
      height: 10,
      latencyMs,
      total: 5,
      annotated: "x.png",
      detections: detections.map((d) => ({
        ...d,
        classId: 1,
        box: { left: 0, top: 0, right: 1, bottom: 1 },
      })),
    });
    const report: DetectReport = {
      ok: true,
      refused: [],
      mode: "detect",
      url: "u",
      source: "--url",
      minScore: 0.5,
      models: [
        {
          name: "fast",
          versions: ["1"],
          input: "images",
          images: [img(12.4, [{ label: "cat", score: 0.61 }])],
        },
        {
          name: "accurate",
          versions: ["1"],
          input: "images",
          images: [
            img(230.6, [
              { label: "cat", score: 0.97 },
              { label: "dog", score: 0.55 },
            ]),
          ],
        },
        { name: "none", versions: ["1"], input: "images", images: [img(8, [])] },
      ],
    };
    expect(comparisonRows(report)).toEqual([
      ["a.jpg", "1 · cat 0.61 · 12 ms", "2 · cat 0.97 · 231 ms", "0 · none · 8 ms"],
    ]);
  });
});

describe("report names", () => {
  it("names annotated copies after the image and the model", () => {
    expect(annotatedName("photos/cat.JPG", "ssd_mobilenet_v2")).toBe("cat.ssd_mobilenet_v2.png");
    expect(annotatedName("a/b/noext", "x/../y")).toBe("noext.x_.._y.png");
    expect(stamp(new Date("2026-01-02T03:04:05.678Z"))).toBe("2026-01-02T03-04-05-678Z");
    expect(progressPrefix(1, 1)).toBe("");
    expect(progressPrefix(2, 6)).toBe("[2/6] ");
    const used = new Set<string>();
    expect(["a.m.png", "a.m.png", "b.m.png", "a.m.png"].map((n) => uniqueName(n, used))).toEqual([
      "a.m.png",
      "a.m-2.png",
      "b.m.png",
      "a.m-3.png",
    ]);
  });
});
