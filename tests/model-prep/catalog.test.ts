import { OdapiError } from "../../common/errors";
import {
  CATALOG,
  CATALOG_NAMES,
  catalogEntry,
  DEFAULT_CATALOG_MODELS,
  kaggleDownloadUrl,
} from "../../model-prep/catalog";

describe("catalog", () => {
  it("holds the four contract names in order", () => {
    expect(CATALOG_NAMES).toEqual([
      "ssd_mobilenet_v2",
      "retinanet_resnet50_v1_fpn_640x640",
      "efficientdet_d0",
      "faster_rcnn_resnet50_v1_640x640",
    ]);
  });

  it("builds Kaggle direct-download URLs from the handles", () => {
    expect(catalogEntry("ssd_mobilenet_v2").url).toBe(
      "https://www.kaggle.com/api/v1/models/tensorflow/ssd-mobilenet-v2/tensorFlow2/ssd-mobilenet-v2/1/download",
    );
    expect(kaggleDownloadUrl("tensorflow/efficientdet/tensorFlow2/d0/1")).toBe(
      "https://www.kaggle.com/api/v1/models/tensorflow/efficientdet/tensorFlow2/d0/1/download",
    );
    for (const e of CATALOG) expect(e.url).toBe(kaggleDownloadUrl(e.kaggleHandle));
  });

  it("marks the original's fast/accurate pair as the default", () => {
    expect(DEFAULT_CATALOG_MODELS.map((n) => catalogEntry(n).role)).toEqual(["fast", "accurate"]);
  });

  it("rejects unknown names with the valid list", () => {
    const err = (() => {
      try {
        catalogEntry("yolo");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(OdapiError);
    expect((err as OdapiError).message).toBe('unknown catalog model "yolo"');
    expect((err as OdapiError).remedy).toContain("ssd_mobilenet_v2, retinanet_resnet50_v1_fpn_640x640");
    expect((err as OdapiError).exitCode).toBe(2);
  });
});
