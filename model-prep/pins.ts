// Pinned TensorFlow for model-prep: the same minor as TF Serving (design.md: a SavedModel written by a newer
// TensorFlow can hold ops the older server cannot load). requirements.txt pins the same version for the venv.
import { TF_SERVING_VERSION } from "../common/pins";

export const TENSORFLOW_VERSION = "2.20.0";

/** The CPU TensorFlow image the docker and remote runners use; no GPU is needed to re-export a model. */
export const TENSORFLOW_IMAGE = `tensorflow/tensorflow:${TENSORFLOW_VERSION}`;

/** "2.20" from "2.20.0". */
export function minorOf(version: string): string {
  return version.split(".").slice(0, 2).join(".");
}

/** True when model-prep's TensorFlow writes models the pinned TF Serving can load. */
export function tensorflowMatchesServing(tf = TENSORFLOW_VERSION, serving = TF_SERVING_VERSION): boolean {
  return minorOf(tf) === minorOf(serving);
}
