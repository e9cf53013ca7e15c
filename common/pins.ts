// Versions that model-prep and serving must agree on, pinned once.

/** The one place the TF Serving version is pinned (images tensorflow/serving:<v> and <v>-gpu). */
export const TF_SERVING_VERSION = "2.20.0";
