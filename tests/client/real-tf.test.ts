// End to end with a real model: model-prep's red-square detector, prepared by the real prepare.py and run by
// real TensorFlow behind tests/client/tf_rest_server.py (TF Serving's REST contract; TF Serving itself needs
// Docker). The box the client prints and draws must be the square's pixels.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Jimp } from "jimp";
import { decodeImage } from "../../client/present/decode";
import { ExitCode } from "../../common/errors";
import { makeTempDir, removeDir } from "../helpers/tmp";
import { BROKEN_JPEG, ROOT, runClient } from "./run-client";

const PYTHON = path.join(ROOT, ".venv/bin/python");
const SERVER = path.join(__dirname, "tf_rest_server.py");
const SQUARE = { left: 100, top: 60, right: 180, bottom: 140 };

let work: string;
let server: ChildProcess | undefined;
let url: string;

beforeAll(async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash scripts/ensure-venv.sh`);
  work = makeTempDir("odapi-client-tf-");
  const build = spawnSync(PYTHON, [SERVER, "--build-square-detector", work], {
    encoding: "utf8",
    timeout: 280_000,
  });
  if (build.status !== 0) throw new Error(`building the model failed: ${build.stderr}`);
  server = spawn(PYTHON, [SERVER, "--models", path.join(work, "models")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  server.stderr?.on("data", (c) => {
    stderr += c;
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    server?.stdout?.on("data", (c) => {
      out += c;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    server?.once("exit", (code) => reject(new Error(`server exited (${code}): ${stderr}`)));
  });
  url = `http://127.0.0.1:${port}`;

  // A green picture with a red 80×80 square, as PNG (lossless) and JPEG.
  const img = new Jimp({ width: 320, height: 240, color: 0x28783cff });
  for (let y = SQUARE.top; y < SQUARE.bottom; y++) {
    for (let x = SQUARE.left; x < SQUARE.right; x++) img.setPixelColor(0xe61414ff, x, y);
  }
  writeFileSync(path.join(work, "square.png"), await img.getBuffer("image/png"));
  writeFileSync(path.join(work, "square.jpg"), await img.getBuffer("image/jpeg"));
}, 300_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server?.once("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
  if (work) removeDir(work);
});

it("prints and draws the box the real model found, for PNG and JPEG", async () => {
  const out = path.join(work, "out");
  const r = await runClient([
    "--url",
    url,
    "--model",
    "square",
    "--image",
    path.join(work, "square.png"),
    path.join(work, "square.jpg"),
    "--out",
    out,
    "--json",
  ]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const doc = JSON.parse(r.stdout);
  expect(doc.models[0].versions).toEqual(["1"]);
  const [png, jpg] = doc.models[0].images;
  for (const img of [png, jpg]) {
    expect(img.total).toBe(1); // num_detections honoured: the other 9 padded rows are not shown
    expect(img.detections).toEqual([
      { classId: 18, label: "dog", score: expect.closeTo(0.9, 6), box: SQUARE },
    ]);
  }
  // Same stem, two files: both annotated copies are kept.
  expect(png.annotated).toBe(path.join(out, "square.square.png"));
  expect(jpg.annotated).toBe(path.join(out, "square.square-2.png"));
  const drawn = await decodeImage(readFileSync(png.annotated));
  const original = await decodeImage(readFileSync(path.join(work, "square.png")));
  expect(drawn.getPixelColor(SQUARE.left, SQUARE.top + 40)).not.toBe(
    original.getPixelColor(SQUARE.left, SQUARE.top + 40),
  );
  expect(drawn.getPixelColor(SQUARE.left + 40, SQUARE.top + 40)).toBe(
    original.getPixelColor(SQUARE.left + 40, SQUARE.top + 40),
  );
  expect(drawn.getPixelColor(300, 220)).toBe(original.getPixelColor(300, 220));
});

it("shows TensorFlow's own message for a corrupt JPEG", async () => {
  const broken = path.join(work, "broken.jpg");
  writeFileSync(broken, BROKEN_JPEG);
  const r = await runClient([
    "--url",
    url,
    "--model",
    "square",
    "--image",
    broken,
    "--out",
    path.join(work, "o2"),
  ]);
  expect(r.code).toBe(ExitCode.badRequest);
  expect(r.stderr.split("\n")[0]).toMatch(
    /rejected the predict request for model "square" \(400\): .*Invalid JPEG data/,
  );
});
