// renderServingFiles: which files, with which modes, and bad input refused before anything is rendered.

import { ExitCode, OdapiError } from "../../common/errors";
import { validateModelName } from "../../common/model-name";
import { renderServingFiles, SCRIPTS, type ServingOptions, scriptArgv } from "../../serving";
import { renderBatchingConfig } from "../../serving/batching-config";
import { renderModelsConfig } from "../../serving/models-config";
import { thrown } from "../helpers/errors";

const base: ServingOptions = { host: "cpu", remoteDir: "/opt/odapi", models: [{ name: "ssd_mobilenet_v2" }] };

test("files and modes without and with the gateway", () => {
  const plain = renderServingFiles(base).map((f) => [f.path, f.mode.toString(8)]);
  expect(plain).toEqual([
    ["config/models.config", "644"],
    ["config/monitoring.config", "644"],
    [SCRIPTS.prepareHost, "755"],
    [SCRIPTS.start, "755"],
    [SCRIPTS.stop, "755"],
  ]);
  const gated = renderServingFiles({ ...base, apiKey: "0123456789abcdef", batching: {} }).map((f) => [
    f.path,
    f.mode.toString(8),
  ]);
  expect(gated).toContainEqual(["config/gateway.conf", "600"]);
  expect(gated).toContainEqual(["config/batching.config", "644"]);
});

test("scriptArgv: how callers run a rendered script", () => {
  expect(scriptArgv("/opt/odapi", SCRIPTS.start)).toEqual(["bash", "/opt/odapi/start.sh"]);
});

test("rendering is deterministic (the deploy trigger hashes these files)", () => {
  const opts: ServingOptions = {
    ...base,
    models: [{ name: "b", labels: { z: 1, a: 1 } }, { name: "a" }],
    apiKey: "0123456789abcdef",
  };
  expect(renderServingFiles(opts)).toEqual(renderServingFiles(structuredClone(opts)));
});

test("models.config text for two models with policy and sorted labels", () => {
  expect(
    renderModelsConfig([
      { name: "fast", labels: { stable: 2, canary: 3 }, versionPolicy: { specific: [2, 3] } },
      { name: "accurate", versionPolicy: { all: true } },
    ]),
  ).toBe(`model_config_list {
  config {
    name: "fast"
    base_path: "/models/fast"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 2 versions: 3 } }
    version_labels { key: "canary" value: 3 }
    version_labels { key: "stable" value: 2 }
  }
  config {
    name: "accurate"
    base_path: "/models/accurate"
    model_platform: "tensorflow"
    model_version_policy { all {} }
  }
}
`);
});

test("batching: allowed sizes without a max make the max their last entry", () => {
  expect(renderBatchingConfig({ allowedBatchSizes: [1, 2, 4] })).toContain("max_batch_size { value: 4 }");
});

describe("validation", () => {
  test.each(["a b", "../x", "x/y", "-x", "a..b", "ü", "a;b", "$(id)", "x".repeat(129)])(
    "model name %j is refused with a config error naming it",
    (name) => {
      const err = thrown(() => validateModelName(name));
      expect(err.exitCode).toBe(ExitCode.config);
      expect(err.message).toContain(JSON.stringify(name));
      expect(err.remedy).toMatch(/letters, digits/);
      expect(() => renderServingFiles({ ...base, models: [{ name }] })).toThrow(OdapiError);
    },
  );

  test.each(["ssd_mobilenet_v2", "A", "0model", "m.v2-x_y", "x".repeat(128)])(
    "model name %j is fine",
    (name) => {
      expect(() => validateModelName(name)).not.toThrow();
    },
  );

  test.each<[string, Partial<ServingOptions>, RegExp]>([
    ["remoteDir relative", { remoteDir: "odapi" }, /remoteDir/],
    ["remoteDir with ..", { remoteDir: "/opt/../etc" }, /remoteDir/],
    ["remoteDir /", { remoteDir: "/" }, /remoteDir/],
    ["remoteDir with a comma", { remoteDir: "/opt/a,b" }, /remoteDir/],
    ["no models", { models: [] }, /no models/],
    ["port 0", { publicPort: 0 }, /not a TCP port/],
    ["port 70000", { publicPort: 70000 }, /not a TCP port/],
    ["body limit 0", { maxBodyBytes: 0 }, /maxBodyBytes/],
    ["bind not an address", { publicBind: "localhost" }, /publicBind/],
    ["bind octet over 255", { publicBind: "127.0.0.256" }, /publicBind/],
    ["batch threads 0", { batching: { numBatchThreads: 0 } }, /numBatchThreads/],
    ["allowed sizes not increasing", { batching: { allowedBatchSizes: [4, 2] } }, /allowedBatchSizes/],
    [
      "label on a version not loaded",
      { models: [{ name: "m", versionPolicy: { specific: [1] }, labels: { s: 2 } }] },
      /does not load/,
    ],
    ["repeated versions", { models: [{ name: "m", versionPolicy: { specific: [1, 1] } }] }, /repeat/],
  ])("%s", (_name, patch, message) => {
    const err = thrown(() => renderServingFiles({ ...base, ...patch }));
    expect(err.message).toMatch(message);
    expect(err.exitCode).toBe(ExitCode.config);
  });
});
