// models.config: a ModelServerConfig text proto, one endpoint per model (TF Serving g3doc serving_config.md).
import { CONTAINER_MODELS_DIR } from "./constants";
import { textProtoString } from "./text-proto";
import type { ServedModel, VersionPolicy } from "./types";

function policyBlock(policy: VersionPolicy): string {
  if ("latest" in policy) return `model_version_policy { latest { num_versions: ${policy.latest} } }`;
  if ("specific" in policy) {
    return `model_version_policy { specific { ${policy.specific.map((v) => `versions: ${v}`).join(" ")} } }`;
  }
  return "model_version_policy { all {} }";
}

function modelBlock(model: ServedModel): string {
  const lines = [
    `    name: ${textProtoString(model.name)}`,
    // base_path excludes the version dir: TF Serving scans it for numeric subdirectories.
    `    base_path: ${textProtoString(`${CONTAINER_MODELS_DIR}/${model.name}`)}`,
    '    model_platform: "tensorflow"',
    `    ${policyBlock(model.versionPolicy ?? { latest: 1 })}`,
  ];
  const labels = Object.entries(model.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [label, version] of labels) {
    lines.push(`    version_labels { key: ${textProtoString(label)} value: ${version} }`);
  }
  return ["  config {", ...lines, "  }"].join("\n");
}

/** Renders models.config; names must already be validated (validateServingOptions). */
export function renderModelsConfig(models: ServedModel[]): string {
  return `model_config_list {\n${models.map(modelBlock).join("\n")}\n}\n`;
}

export function hasVersionLabels(models: ServedModel[]): boolean {
  return models.some((m) => Object.keys(m.labels ?? {}).length > 0);
}
