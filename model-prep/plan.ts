// What `odapi prepare` will do, decided from its arguments without I/O: which models, from where, which runner.
import { OdapiError } from "../common/errors";
import { validateModelName } from "../common/model-name";
import { catalogEntry } from "./catalog";
import { catalogUrl } from "./remote-job";
import type { IfExists, RunnerKind } from "./runners";
import { checkVersion } from "./version";

export interface PrepareArgs {
  catalog: string[];
  savedModel?: string;
  name?: string;
  out: string;
  version: number;
  runner?: RunnerKind;
  ifExists: IfExists;
  maxDetections?: number;
  mirror?: string;
  /** Remote runner only. */
  host?: string;
  user?: string;
  remoteDir?: string;
}

export type PrepareSource =
  | { kind: "catalog"; name: string; url: string }
  | { kind: "saved-model"; name: string; savedModelDir: string };

/** The models to prepare, in order; throws OdapiError on contradictory or incomplete arguments. Pure. */
export function planSources(args: PrepareArgs): PrepareSource[] {
  if (args.savedModel !== undefined && !args.name) {
    throw new OdapiError(
      "--saved-model needs --name",
      "name the served model, e.g. --saved-model ./my_detector --name my_detector",
      "usage",
    );
  }
  if (args.name && args.savedModel === undefined) {
    throw new OdapiError(
      "--name is for --saved-model",
      "add --saved-model DIR, or use --catalog NAME",
      "usage",
    );
  }
  if (args.catalog.length === 0 && args.savedModel === undefined) {
    throw new OdapiError(
      "nothing to prepare",
      "pass --catalog NAME (e.g. --catalog ssd_mobilenet_v2) or --saved-model DIR --name NAME",
      "usage",
    );
  }
  checkVersion(args.version);
  if (args.maxDetections !== undefined && (!Number.isInteger(args.maxDetections) || args.maxDetections < 1)) {
    throw new OdapiError(
      `--max-detections ${args.maxDetections} must be a positive integer`,
      "pass e.g. 100",
      "usage",
    );
  }
  const sources: PrepareSource[] = args.catalog.map((name) => {
    catalogEntry(name);
    return { kind: "catalog", name, url: catalogUrl(name, args.mirror) };
  });
  if (args.savedModel !== undefined && args.name) {
    validateModelName(args.name);
    sources.push({ kind: "saved-model", name: args.name, savedModelDir: args.savedModel });
  }
  const seen = new Set<string>();
  for (const s of sources) {
    if (seen.has(s.name)) {
      throw new OdapiError(`model ${s.name} is named twice`, "list each model once", "usage");
    }
    seen.add(s.name);
  }
  if (args.runner === "remote") checkRemoteArgs(args);
  return sources;
}

function checkRemoteArgs(args: PrepareArgs): void {
  const missing = (["host", "user", "remoteDir"] as const).filter((k) => !args[k]);
  if (missing.length > 0) {
    const flags = missing.map((k) => (k === "remoteDir" ? "--remote-dir" : `--${k}`)).join(", ");
    throw new OdapiError(
      `--runner remote needs ${flags}`,
      "e.g. --runner remote --host 1.2.3.4 --user ubuntu --key ~/.ssh/id_ed25519 --remote-dir /opt/odapi",
      "usage",
    );
  }
}
