// The config keys, their types and defaults, read from Pulumi.yaml at run time: the one place they are declared
// (Pulumi reads the same file for `pulumi config` and the engine's defaults).
import { readFileSync } from "node:fs";
import yaml from "js-yaml";
import { OdapiError } from "../../common/errors";
import { projectFile } from "../../common/paths";
import type { ConfigKey } from "./types";

/** Pulumi's config namespace for this project (= `name` in Pulumi.yaml). */
export const NAMESPACE = "odapi";

export const KEY_TYPES = ["string", "integer", "boolean", "array"] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export type KeyDefault = string | number | boolean | string[];

export interface KeySpec {
  type: KeyType;
  description: string;
  default: KeyDefault;
  secret: boolean;
}

/** Every declared key of the odapi namespace, in Pulumi.yaml's order. */
export type KeyTable = Record<string, KeySpec>;

export const fullKey = (key: ConfigKey): string => `${NAMESPACE}:${key}`;

const PROJECT_FILE = "Pulumi.yaml";

function defaultFits(type: KeyType, value: unknown): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      return Number.isInteger(value);
    case "boolean":
      return typeof value === "boolean";
    case "array":
      return Array.isArray(value) && value.every((v) => typeof v === "string");
  }
}

function declarationProblem(decl: unknown): string | undefined {
  if (!decl || typeof decl !== "object") return "is not a mapping";
  const d = decl as Record<string, unknown>;
  if (!(KEY_TYPES as readonly unknown[]).includes(d.type)) return `has type ${JSON.stringify(d.type)}`;
  if (typeof d.description !== "string" || d.description.trim() === "") return "has no description";
  if (!("default" in d)) return "has no default";
  if (!defaultFits(d.type as KeyType, d.default)) return `has a default that is not a ${d.type}`;
  if (d.type === "array" && (d.items as { type?: unknown } | undefined)?.type !== "string")
    return "is an array without `items: {type: string}`";
  if (d.secret !== undefined && typeof d.secret !== "boolean") return "has a non-boolean `secret`";
  return undefined;
}

/** Parses Pulumi.yaml's text into the key table; a malformed declaration is an error naming the key. */
export function parseKeyTable(text: string, source = PROJECT_FILE): KeyTable {
  const broken = (problem: string) =>
    new OdapiError(
      `${source}: ${problem}`,
      `declare each key under config: with type (${KEY_TYPES.join(", ")}), description and default`,
      "config",
    );
  let project: unknown;
  try {
    project = yaml.load(text);
  } catch (err) {
    throw broken(`is not valid YAML (${(err as Error).message.split("\n")[0]})`);
  }
  const p = (project ?? {}) as { name?: unknown; config?: unknown };
  if (p.name !== NAMESPACE) throw broken(`name is ${JSON.stringify(p.name)}, not ${NAMESPACE}`);
  if (!p.config || typeof p.config !== "object") throw broken("declares no config keys");
  const table: KeyTable = {};
  for (const [key, decl] of Object.entries(p.config as Record<string, unknown>)) {
    const problem = declarationProblem(decl);
    if (problem) throw broken(`config key ${key} ${problem}`);
    const d = decl as { type: KeyType; description: string; default: KeyDefault; secret?: boolean };
    table[key] = { type: d.type, description: d.description, default: d.default, secret: d.secret ?? false };
  }
  return table;
}

let table: KeyTable | undefined;

/** The project's key table, read once. */
export function configKeys(): KeyTable {
  if (!table) {
    const file = projectFile(PROJECT_FILE);
    table = parseKeyTable(readFileSync(file, "utf8"), file);
  }
  return table;
}

/** One key's declaration; the program reading a key Pulumi.yaml does not declare is a broken checkout. */
export function keySpec(table: KeyTable, key: ConfigKey, type: KeyType): KeySpec {
  const spec = table[key];
  if (!spec || spec.type !== type)
    throw new OdapiError(
      spec
        ? `${PROJECT_FILE} declares ${fullKey(key)} as ${spec.type}, the program reads it as ${type}`
        : `${PROJECT_FILE} does not declare ${fullKey(key)}`,
      `restore the declaration of ${key} in ${PROJECT_FILE} (git checkout ${PROJECT_FILE})`,
      "config",
    );
  return spec;
}
