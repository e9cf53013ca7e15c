// The upload engine used by deploy: scan the local bundle, then sync it to the remote dir (see README.md).

export { type EarlyStart, startEarly } from "./channels";
export { remoteFreeBytes } from "./disk";
export {
  type BundleFile,
  bundleFileFromContent,
  MANIFEST_PATH,
  type Manifest,
  type ScanOptions,
  scanLocalModels,
} from "./manifest";
export { TRANSPORTS, type Transport } from "./openssh-batch";
export { stagedPathOf, stagingDir, versionDir } from "./paths";
export { channelCountOf } from "./ranges";
export { stateCommand } from "./remote-scripts";
export { type SyncOptions, type SyncResult, syncBundle } from "./sync";
