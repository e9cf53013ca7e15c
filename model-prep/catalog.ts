// The ready-made detectors `odapi prepare --catalog NAME` knows: stable names (used by the Pulumi defaults),
// where to download them, and what each one is good for.
import { OdapiError } from "../common/errors";

export type CatalogRole = "fast" | "accurate" | "balanced";

export interface CatalogEntry {
  /** Stable name: the served model name and the `--catalog` value. */
  name: string;
  role: CatalogRole;
  description: string;
  /** Kaggle Models handle `<owner>/<model>/<framework>/<variation>/<version>`. */
  kaggleHandle: string;
  /** The old tfhub.dev handle (tfhub.dev now redirects to Kaggle Models). */
  tfhubHandle: string;
  /** Direct download of a tar.gz with the SavedModel at its root. */
  url: string;
  /** Input size the detector resizes to internally (informational). */
  inputSize: string;
}

const KAGGLE_DOWNLOAD = "https://www.kaggle.com/api/v1/models";

/** Kaggle's direct download URL for a model handle (design.md, verified pattern). */
export function kaggleDownloadUrl(handle: string): string {
  return `${KAGGLE_DOWNLOAD}/${handle}/download`;
}

function entry(e: Omit<CatalogEntry, "url">): CatalogEntry {
  return { ...e, url: kaggleDownloadUrl(e.kaggleHandle) };
}

export const CATALOG: readonly CatalogEntry[] = Object.freeze([
  entry({
    name: "ssd_mobilenet_v2",
    role: "fast",
    description: "SSD MobileNet V2 (COCO 2017): the fast one; a few tens of ms per image on a small CPU.",
    kaggleHandle: "tensorflow/ssd-mobilenet-v2/tensorFlow2/ssd-mobilenet-v2/1",
    tfhubHandle: "tensorflow/ssd_mobilenet_v2/2",
    inputSize: "320x320",
  }),
  entry({
    name: "retinanet_resnet50_v1_fpn_640x640",
    role: "accurate",
    description:
      "RetinaNet ResNet50 V1 FPN 640x640 (COCO 2017): the original project's accurate model; slower, better recall.",
    // tfhub handle verified (design.md); the Kaggle handle follows the naming of the verified handles.
    kaggleHandle: "tensorflow/retinanet/tensorFlow2/resnet50-v1-fpn-640x640/1",
    tfhubHandle: "tensorflow/retinanet/resnet50_v1_fpn_640x640/1",
    inputSize: "640x640",
  }),
  entry({
    name: "efficientdet_d0",
    role: "balanced",
    description: "EfficientDet D0 (COCO 2017): small and more accurate than SSD MobileNet; moderate speed.",
    kaggleHandle: "tensorflow/efficientdet/tensorFlow2/d0/1",
    tfhubHandle: "tensorflow/efficientdet/d0/1",
    inputSize: "512x512",
  }),
  entry({
    name: "faster_rcnn_resnet50_v1_640x640",
    role: "accurate",
    description:
      "Faster R-CNN ResNet50 V1 640x640 (COCO 2017): two-stage, accurate, slow on CPU; best with a GPU.",
    kaggleHandle: "tensorflow/faster-rcnn-resnet-v1/tensorFlow2/faster-rcnn-resnet50-v1-640x640/1",
    tfhubHandle: "tensorflow/faster_rcnn/resnet50_v1_640x640/1",
    inputSize: "640x640",
  }),
]);

/** The names `--catalog` accepts, in catalog order. */
export const CATALOG_NAMES: readonly string[] = CATALOG.map((e) => e.name);

/** The catalog's default fast and accurate pair (the original project's two endpoints). */
export const DEFAULT_CATALOG_MODELS: readonly string[] = [
  "ssd_mobilenet_v2",
  "retinanet_resnet50_v1_fpn_640x640",
];

/** Looks a model up by name; unknown names fail with the list of valid ones. */
export function catalogEntry(name: string): CatalogEntry {
  const found = CATALOG.find((e) => e.name === name);
  if (!found) {
    throw new OdapiError(
      `unknown catalog model "${name}"`,
      `use one of: ${CATALOG_NAMES.join(", ")} (or --saved-model DIR --name NAME for your own SavedModel)`,
      "usage",
    );
  }
  return found;
}
