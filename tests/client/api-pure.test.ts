import {
  apiHeaders,
  availableVersions,
  encodedImageInput,
  type ModelMetadata,
  modelUrl,
  requireAvailable,
  responseError,
  serverMessage,
} from "../../client/api";
import { COCO_LABELS, cocoLabel } from "../../client/coco-labels";
import { predictRequestBody } from "../../client/request";
import { ExitCode, OdapiError } from "../../common/errors";
import { thrown } from "../helpers/errors";

describe("modelUrl", () => {
  it("builds the three TF Serving REST paths", () => {
    expect(modelUrl("http://1.2.3.4:8501", "ssd", "status").href).toBe("http://1.2.3.4:8501/v1/models/ssd");
    expect(modelUrl("http://1.2.3.4:8501/", "ssd", "metadata").href).toBe(
      "http://1.2.3.4:8501/v1/models/ssd/metadata",
    );
    expect(modelUrl("http://h:8501", "ssd", "predict").href).toBe("http://h:8501/v1/models/ssd:predict");
  });
  it("keeps a path prefix (a reverse proxy mount) and escapes the model name", () => {
    expect(modelUrl("https://h/api/", "a b", "predict").href).toBe("https://h/api/v1/models/a%20b:predict");
  });
  it("rejects a non-URL with a usage error", () => {
    expect(() => modelUrl("1.2.3.4:8501x", "m", "status")).toThrow(OdapiError);
    expect(thrown(() => modelUrl("nonsense", "m", "status")).exitCode).toBe(ExitCode.usage);
  });
});

describe("apiHeaders", () => {
  it("adds the key header only when a key is set", () => {
    expect(apiHeaders(undefined, false)).toEqual({ accept: "application/json" });
    expect(apiHeaders("k".repeat(20), true)).toEqual({
      accept: "application/json",
      "content-type": "application/json",
      "X-API-Key": "k".repeat(20),
    });
  });
});

describe("responseError", () => {
  const url = new URL("http://h:8501/v1/models/m:predict");
  const ctx = { url, model: "m", call: "predict" as const };
  it("is undefined for 2xx", () => {
    expect(responseError(200, "{}", ctx)).toBeUndefined();
  });
  it.each([
    [401, "auth"],
    [403, "auth"],
    [404, "notFound"],
    [400, "badRequest"],
    [413, "badRequest"],
    [504, "timeout"],
    [500, "serverError"],
    [502, "serverError"],
    [418, "failure"],
  ] as const)("maps HTTP %i to exit code %s", (status, kind) => {
    const err = responseError(status, '{"error": "boom"}', ctx);
    expect(err?.exitCode).toBe(ExitCode[kind]);
    expect(err?.message).toContain("boom");
  });
  it("shows TF Serving's message for a 400", () => {
    const err = responseError(
      400,
      '{ "error": "Failed to process element: 0 of \'instances\' list. JSON Value: {\\n \\"b64\\": \\"@@\\"\\n} not formatted correctly for base64 data" }',
      ctx,
    );
    expect(err?.message).toMatch(
      /^http:\/\/h:8501 rejected the predict request for model "m" \(400\): Failed to process element/,
    );
    expect(err?.message).not.toContain("\n");
  });
});

describe("serverMessage", () => {
  it("takes the error field, flattens whitespace and truncates", () => {
    expect(serverMessage('{"error":"a\\n  b"}')).toBe("a b");
    expect(serverMessage("<html>\n<b>502</b></html>")).toBe("<html> <b>502</b></html>");
    expect(serverMessage("x".repeat(400))).toHaveLength(300);
    expect(serverMessage("")).toBe("(empty body)");
  });
});

describe("model status", () => {
  it("lists AVAILABLE versions and explains when there is none", () => {
    const ok = { model_version_status: [{ version: "1", state: "AVAILABLE" }] };
    expect(availableVersions(ok)).toEqual(["1"]);
    expect(() => requireAvailable(ok, "m")).not.toThrow();
    const loading = {
      model_version_status: [
        { version: "2", state: "LOADING" },
        { version: "1", state: "END", status: { error_code: "UNKNOWN", error_message: "bad op" } },
      ],
    };
    expect(() => requireAvailable(loading, "m")).toThrow(
      'model "m" has no AVAILABLE version: version 2 LOADING, version 1 END (bad op)',
    );
  });
});

describe("encodedImageInput", () => {
  const meta = (inputs: Record<string, { dtype: string }>): ModelMetadata => ({
    model_spec: { name: "m" },
    metadata: { signature_def: { signature_def: { serving_default: { inputs, outputs: {} } } } },
  });
  it("returns the single DT_STRING input", () => {
    expect(encodedImageInput(meta({ images: { dtype: "DT_STRING" } }), "m")).toBe("images");
  });
  it("says a tensor-only model needs odapi prepare", () => {
    expect(() => encodedImageInput(meta({ input_tensor: { dtype: "DT_UINT8" } }), "m")).toThrow(
      /only takes tensors \(serving_default: input_tensor DT_UINT8\)/,
    );
    const err = thrown(() => encodedImageInput(meta({ input_tensor: { dtype: "DT_UINT8" } }), "m"));
    expect(err.remedy).toContain("odapi prepare");
    expect(err.exitCode).toBe(ExitCode.config);
  });
  it("names the signatures when serving_default is missing", () => {
    expect(() => encodedImageInput(meta({ images: { dtype: "DT_STRING" } }), "m", "other")).toThrow(
      /no signature "other" \(it has: serving_default\)/,
    );
  });
});

describe("COCO labels", () => {
  it("has the 80 COCO 2017 categories on ids 1..90", () => {
    const ids = Object.keys(COCO_LABELS).map(Number);
    expect(ids).toHaveLength(80);
    expect(Math.min(...ids)).toBe(1);
    expect(Math.max(...ids)).toBe(90);
    expect(cocoLabel(1)).toBe("person");
    expect(cocoLabel(18.0)).toBe("dog");
    expect(cocoLabel(90)).toBe("toothbrush");
    expect(cocoLabel(12)).toBe("class 12");
  });
});

describe("predictRequestBody", () => {
  it("is exactly the row-format b64 JSON", () => {
    expect(JSON.stringify(predictRequestBody([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from("hi")]))).toBe(
      '{"instances":[{"b64":"/9j/"},{"b64":"aGk="}]}',
    );
  });
});
