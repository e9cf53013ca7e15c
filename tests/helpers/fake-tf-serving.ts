// A local HTTP server that answers like TensorFlow Serving's REST API (g3doc api_rest.md) for a prepared
// detection model: status, metadata (serving_default takes DT_STRING `images`), and :predict that really
// base64-decodes and image-decodes each instance and returns deterministic detections.
// Optional: a fixed delay per predict, a required X-API-Key (like the nginx gateway), tensor-only models, and
// versions changed while it runs (LOADING → AVAILABLE, as TF Serving loads a new version before unloading the old).
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { defaultFormats } from "jimp";

export type FakeVersionState = "AVAILABLE" | "LOADING" | "END";

export interface FakeVersion {
  version: number;
  state: FakeVersionState;
}

export interface FakeModel {
  name: string;
  version?: number;
  state?: FakeVersionState;
  /** DT_UINT8 = a raw TF2 detection model that only takes `input_tensor`. */
  inputDtype?: "DT_STRING" | "DT_UINT8";
}

export interface FakeServingOptions {
  models: (string | FakeModel)[];
  /** Added before every :predict answer, in ms. */
  delayMs?: number;
  /** When set, a successful :predict answers 200 with this text instead of the predictions (a wrong proxy, a page). */
  predictAnswer?: string;
  /** When set, every request needs header X-API-Key with this value (401 otherwise, like serving/gateway.ts). */
  apiKey?: string;
}

export interface FakeServing {
  url: string;
  port: number;
  /** Every request seen: method, path, X-API-Key header. */
  requests: { method: string; path: string; apiKey?: string }[];
  /** :predict calls per model. */
  predictCalls: Map<string, number>;
  /** Successful :predict calls per "<model>/<version>" (the highest AVAILABLE version answers). */
  predictCallsByVersion: Map<string, number>;
  /** Replaces a model's versions (its status lists them all); a model without an AVAILABLE one answers 404. */
  setVersions(model: string, versions: FakeVersion[]): void;
  /** Images (instances) received in successful :predict calls, per model. */
  predictImages: Map<string, number>;
  /** Highest number of :predict requests in flight at once. */
  maxInFlight: number;
  /** TCP connections accepted (keep-alive reuse keeps this small). */
  connections: number;
  close(): Promise<void>;
}

/** The fixed detections every image gets (normalised [ymin, xmin, ymax, xmax]); padded to 5 rows like a real model. */
export const FAKE_DETECTIONS = [
  { classId: 1, score: 0.91, box: [0.1, 0.2, 0.6, 0.5] },
  { classId: 18, score: 0.75, box: [0.5, 0.55, 0.9, 0.95] },
  { classId: 3, score: 0.3, box: [0.0, 0.0, 0.2, 0.2] },
] as const;
const PADDED_ROWS = 5;

function detectionsOutput() {
  const pad = PADDED_ROWS - FAKE_DETECTIONS.length;
  return {
    detection_boxes: [
      ...FAKE_DETECTIONS.map((d) => [...d.box]),
      ...Array.from({ length: pad }, () => [0, 0, 0, 0]),
    ],
    detection_scores: [...FAKE_DETECTIONS.map((d) => d.score), ...new Array(pad).fill(0)],
    detection_classes: [...FAKE_DETECTIONS.map((d) => d.classId), ...new Array(pad).fill(0)],
    num_detections: FAKE_DETECTIONS.length,
  };
}

interface ModelState {
  name: string;
  inputDtype: "DT_STRING" | "DT_UINT8";
  versions: FakeVersion[];
}

/** The version TF Serving answers with when none is named: the highest AVAILABLE one. */
function servedVersion(m: ModelState | undefined): number | undefined {
  const available = m?.versions.filter((v) => v.state === "AVAILABLE").map((v) => v.version) ?? [];
  return available.length > 0 ? Math.max(...available) : undefined;
}

function metadataOf(m: ModelState, version: number) {
  const stringInput = m.inputDtype === "DT_STRING";
  const floatOut = (dims: number[]) => ({
    dtype: "DT_FLOAT",
    tensor_shape: { dim: dims.map((size) => ({ size: String(size), name: "" })), unknown_rank: false },
  });
  return {
    model_spec: { name: m.name, signature_name: "", version: String(version) },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: {
            inputs: stringInput
              ? {
                  images: {
                    dtype: "DT_STRING",
                    tensor_shape: { dim: [{ size: "-1", name: "" }] },
                    name: "serving_default_images:0",
                  },
                }
              : {
                  input_tensor: {
                    dtype: "DT_UINT8",
                    tensor_shape: { dim: [1, -1, -1, 3].map((s) => ({ size: String(s), name: "" })) },
                    name: "serving_default_input_tensor:0",
                  },
                },
            outputs: {
              detection_boxes: floatOut([-1, 100, 4]),
              detection_scores: floatOut([-1, 100]),
              detection_classes: floatOut([-1, 100]),
              num_detections: floatOut([-1]),
            },
            method_name: "tensorflow/serving/predict",
          },
        },
      },
    },
  };
}

// Like decode_image: whatever one of the JPEG/PNG/GIF/BMP decoders accepts is an image.
const decoders = defaultFormats.map((f) => f()).filter((c) => c.mime !== "image/tiff");

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export async function startFakeTfServing(opts: FakeServingOptions): Promise<FakeServing> {
  const models = new Map<string, ModelState>();
  for (const m of opts.models) {
    const model = typeof m === "string" ? { name: m } : m;
    models.set(model.name, {
      name: model.name,
      inputDtype: model.inputDtype ?? "DT_STRING",
      versions: [{ version: model.version ?? 1, state: model.state ?? "AVAILABLE" }],
    });
  }
  // Real decoding, cached by content so a benchmark does not measure the fake's JPEG decoder.
  const decoded = new Map<string, boolean>();
  let inFlight = 0;

  const state: FakeServing = {
    url: "",
    port: 0,
    requests: [],
    predictCalls: new Map(),
    predictCallsByVersion: new Map(),
    setVersions: (name, versions) => {
      const model = models.get(name);
      if (!model) throw new Error(`the fake TF Serving has no model ${name}`);
      model.versions = versions.map((v) => ({ ...v }));
    },
    predictImages: new Map(),
    maxInFlight: 0,
    connections: 0,
    close: async () => {},
  };

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body, null, 4);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  const isImage = async (bytes: Buffer): Promise<boolean> => {
    const key = createHash("sha256").update(bytes).digest("hex");
    const hit = decoded.get(key);
    if (hit !== undefined) return hit;
    let ok = false;
    for (const codec of decoders) {
      try {
        await codec.decode(bytes); // some codecs are synchronous, some return a promise
        ok = true;
        break;
      } catch {
        // not this format
      }
    }
    decoded.set(key, ok);
    return ok;
  };

  const predict = async (model: ModelState, version: number, raw: string, res: http.ServerResponse) => {
    let body: { instances?: unknown };
    try {
      body = JSON.parse(raw);
    } catch (e) {
      return send(res, 400, { error: `JSON Parse error: ${(e as Error).message}` });
    }
    if (!Array.isArray(body.instances))
      return send(res, 400, { error: "Missing 'inputs' or 'instances' key" });
    const predictions: unknown[] = [];
    for (const [i, inst] of body.instances.entries()) {
      const b64 = (inst as { b64?: unknown })?.b64;
      if (model.inputDtype !== "DT_STRING") {
        return send(res, 400, {
          error: `JSON Value: ${JSON.stringify(inst)} Type: Object is not of expected type: uint8`,
        });
      }
      if (typeof b64 !== "string" || !B64.test(b64) || b64.length % 4 !== 0) {
        return send(res, 400, {
          error: `Failed to process element: ${i} of 'instances' list. JSON Value: ${JSON.stringify(inst)} not formatted correctly for base64 data`,
        });
      }
      if (!(await isImage(Buffer.from(b64, "base64")))) {
        return send(res, 400, {
          error:
            "Unknown image file format. One of JPEG, PNG, GIF, BMP required.\n\t [[{{function_node __inference_serve_images_1234}}{{node DecodeImage}}]]",
        });
      }
      predictions.push(detectionsOutput());
    }
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    state.predictImages.set(model.name, (state.predictImages.get(model.name) ?? 0) + predictions.length);
    const key = `${model.name}/${version}`;
    state.predictCallsByVersion.set(key, (state.predictCallsByVersion.get(key) ?? 0) + 1);
    if (opts.predictAnswer !== undefined) {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(opts.predictAnswer);
      return;
    }
    send(res, 200, { predictions });
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const path = (req.url ?? "/").split("?")[0];
      const key = req.headers["x-api-key"];
      state.requests.push({
        method: req.method ?? "",
        path,
        apiKey: typeof key === "string" ? key : undefined,
      });
      if (opts.apiKey !== undefined && key !== opts.apiKey) {
        return send(res, 401, { error: "missing or wrong API key: send it in the X-API-Key header" });
      }
      const m = /^\/v1\/models\/([^/:]+)(?:\/versions\/(\d+))?(\/metadata|:predict)?$/.exec(path);
      if (!m) return send(res, 404, { error: `Malformed request: ${req.method} ${path}` });
      const name = decodeURIComponent(m[1]);
      const model = models.get(name);
      const call = m[3] ?? "";
      if (call === ":predict") {
        if (req.method !== "POST") return send(res, 405, { error: "Method Not Allowed" });
        const version = servedVersion(model);
        if (!model || version === undefined) {
          return send(res, 404, { error: `Servable not found for request: Latest(${name})` });
        }
        state.predictCalls.set(name, (state.predictCalls.get(name) ?? 0) + 1);
        inFlight++;
        state.maxInFlight = Math.max(state.maxInFlight, inFlight);
        try {
          await predict(model, version, Buffer.concat(chunks).toString(), res);
        } finally {
          inFlight--;
        }
        return;
      }
      if (req.method !== "GET") return send(res, 405, { error: "Method Not Allowed" });
      if (!model) return send(res, 404, { error: `Could not find any versions of model ${name}` });
      if (call === "/metadata") {
        const version = servedVersion(model);
        if (version === undefined) {
          return send(res, 404, { error: `Servable not found for request: Latest(${name})` });
        }
        return send(res, 200, metadataOf(model, version));
      }
      send(res, 200, {
        model_version_status: model.versions.map((v) => ({
          version: String(v.version),
          state: v.state,
          status: { error_code: "OK", error_message: "" },
        })),
      });
    });
  });
  server.on("connection", () => {
    state.connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  state.port = port;
  state.url = `http://127.0.0.1:${port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
