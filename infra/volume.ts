// How big the root volume must be (pure): the AMI's own snapshot plus Docker images plus the models, with headroom.
import type { HostKind } from "../serving";

const GiB = 1024 ** 3;
/** Docker images pulled on the host: tensorflow/serving (+gpu variant ~6 GB), tensorflow/tensorflow for model prep, nginx. */
export const IMAGES_GB: Record<HostKind, number> = { cpu: 6, gpu: 14 };
/** A catalog model on disk: the Kaggle tarball, the unpacked SavedModel and the wrapped export (≤ ~0.4 GB each). */
export const CATALOG_MODEL_GB = 1;
/** Logs, apt caches, a second model version during an update. */
export const HEADROOM_GB = 8;
export const MIN_ROOT_GB = 20;

export interface VolumeInputs {
  host: HostKind;
  amiRootGb: number;
  catalogModels: number;
  /** Bytes of local prepared models to upload (uploaded into a staging dir, then renamed: counted once). */
  localModelBytes: number;
}

/** The automatic root volume size in GB. */
export function autoRootVolumeGb(v: VolumeInputs): number {
  const models = v.catalogModels * CATALOG_MODEL_GB + Math.ceil(v.localModelBytes / GiB);
  return Math.max(MIN_ROOT_GB, Math.ceil(v.amiRootGb + IMAGES_GB[v.host] + models + HEADROOM_GB));
}
