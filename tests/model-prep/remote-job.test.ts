import { existsSync } from "node:fs";
import { shellJoin } from "../../common/shell";
import {
  catalogUrl,
  parseRemoteResult,
  remoteJobs,
  remotePrepareArgv,
  remoteRawDir,
  remoteToolDir,
  remoteToolFiles,
} from "../../model-prep/remote-job";

describe("remote runner plan (pure)", () => {
  it("puts its tools under <remoteDir>/.odapi/model-prep and ships only files that exist", () => {
    expect(remoteToolDir("/opt/odapi")).toBe("/opt/odapi/.odapi/model-prep");
    expect(remoteToolFiles().map((f) => f.name)).toEqual(["prepare.py", "remote-prepare.sh", "warmup.jpg"]);
    for (const f of remoteToolFiles()) expect(existsSync(f.localPath)).toBe(true);
  });

  it("builds the exact command per model (docker by default, a host Python when asked)", () => {
    expect(
      shellJoin(
        remotePrepareArgv(remoteJobs({ catalog: ["ssd_mobilenet_v2"], remoteDir: "/opt/odapi" })[0], {
          remoteDir: "/opt/odapi",
          version: 1,
        }),
      ),
    ).toBe(
      "bash /opt/odapi/.odapi/model-prep/remote-prepare.sh /opt/odapi ssd_mobilenet_v2 " +
        "https://www.kaggle.com/api/v1/models/tensorflow/ssd-mobilenet-v2/tensorFlow2/ssd-mobilenet-v2/1/download " +
        "1 tensorflow/tensorflow:2.20.0",
    );
    expect(
      shellJoin(
        remotePrepareArgv(
          { name: "efficientdet_d0", source: catalogUrl("efficientdet_d0", "http://10.0.0.5:8080") },
          { remoteDir: "/srv/my models", version: 3, python: "/usr/bin/python3" },
        ),
      ),
    ).toBe(
      "bash '/srv/my models/.odapi/model-prep/remote-prepare.sh' '/srv/my models' efficientdet_d0 " +
        "http://10.0.0.5:8080/tensorflow/efficientdet/tensorFlow2/d0/1/download 3 tensorflow/tensorflow:2.20.0 /usr/bin/python3",
    );
    expect(catalogUrl("efficientdet_d0", "http://m/")).toBe(
      "http://m/tensorflow/efficientdet/tensorFlow2/d0/1/download",
    );
  });

  it("lists catalog jobs, then uploaded SavedModels as dir: sources", () => {
    expect(
      remoteJobs({
        catalog: ["efficientdet_d0"],
        savedModels: [{ name: "mine", dir: "./local/mine" }],
        remoteDir: "/opt/odapi",
      }),
    ).toEqual([
      {
        name: "efficientdet_d0",
        source: "https://www.kaggle.com/api/v1/models/tensorflow/efficientdet/tensorFlow2/d0/1/download",
      },
      { name: "mine", source: "dir:/opt/odapi/.odapi/raw/mine" },
    ]);
    expect(remoteRawDir("/opt/odapi", "mine")).toBe("/opt/odapi/.odapi/raw/mine");
  });

  it("reads the script's result line", () => {
    expect(parseRemoteResult("odapi-step: x\nodapi-result: skipped ssd 1 (already prepared)\n", "ssd")).toBe(
      "skipped",
    );
    expect(parseRemoteResult("odapi-result: prepared ssd 1\n", "ssd")).toBe("prepared");
    expect(() => parseRemoteResult("odapi-result: prepared other 1\n", "ssd")).toThrow(
      /did not report a result for ssd/,
    );
    expect(() => parseRemoteResult("", "ssd")).toThrow(/did not report/);
  });
});
