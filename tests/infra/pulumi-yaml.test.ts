// Pulumi.yaml is the one declaration of the config keys: infra/config reads its table from it at run time, the
// program reads exactly the declared keys, and the stack files set only declared keys (plus provider keys such
// as aws:region) — never a secret in clear text.
import { readFileSync } from "node:fs";
import path from "node:path";
import yaml from "js-yaml";
import { configKeys, NAMESPACE, parseKeyTable, parseStackConfig } from "../../infra/config";
import { CATALOG_NAMES, DEFAULT_CATALOG_MODELS } from "../../model-prep/catalog";
import { thrown } from "../helpers/errors";
import type { Json } from "./harness";

const ROOT = path.resolve(__dirname, "../..");
const text = (f: string) => readFileSync(path.join(ROOT, f), "utf8");
const load = (f: string) => yaml.load(text(f)) as Record<string, Json>;
const project = load("Pulumi.yaml");

test("the project is a TypeScript nodejs program named after the config namespace", () => {
  expect(project.name).toBe(NAMESPACE);
  expect(project.runtime).toMatchObject({ name: "nodejs", options: { typescript: true } });
  const pkg = JSON.parse(text("package.json"));
  expect(pkg.main).toBe("index.ts");
  // read at run time by infra/config, so it must be installed without dev dependencies
  expect(pkg.dependencies).toHaveProperty("js-yaml");
});

test("the key table is Pulumi.yaml's: every key with its type, description, default and secrecy — and nothing else", () => {
  const table = configKeys();
  expect(Object.keys(table)).toEqual(Object.keys(project.config));
  for (const [key, decl] of Object.entries<Json>(project.config)) {
    const spec = table[key];
    expect([key, spec.type]).toEqual([key, decl.type]);
    expect([key, spec.default]).toEqual([key, decl.default]);
    expect([key, spec.description]).toEqual([key, decl.description]);
    expect([key, spec.secret]).toEqual([key, decl.secret ?? false]);
    if (decl.type === "array") expect(decl.items).toEqual({ type: "string" });
  }
  expect(table.sshPrivateKey.secret).toBe(true);
});

test("the program reads exactly the declared keys (plus aws:region)", () => {
  const asked = new Set<string>();
  parseStackConfig((key) => {
    asked.add(key);
    return undefined;
  });
  expect([...asked].sort()).toEqual(
    [...Object.keys(configKeys()).map((k) => `${NAMESPACE}:${k}`), "aws:region"].sort(),
  );
});

describe("the program's defaults and types come from the table, not from a copy", () => {
  test("a changed default in the table is the parsed value", () => {
    const table = { ...configKeys(), sshWaitMinutes: { ...configKeys().sshWaitMinutes, default: 42 } };
    expect(parseStackConfig(() => undefined, {}, table).sshWaitMinutes).toBe(42);
  });
  test("a key the program reads but the table does not declare is an error naming it", () => {
    const { gpu: _dropped, ...table } = configKeys();
    const err = thrown(() => parseStackConfig(() => undefined, {}, table));
    expect(err.message).toBe("Pulumi.yaml does not declare odapi:gpu");
    expect(err.remedy).toMatch(/restore the declaration of gpu in Pulumi\.yaml/);
  });
  test("a key declared with another type than the program reads is an error naming both", () => {
    const table = {
      ...configKeys(),
      sshPort: { ...configKeys().sshPort, type: "string" as const, default: "22" },
    };
    const err = thrown(() => parseStackConfig(() => undefined, {}, table));
    expect(err.message).toBe("Pulumi.yaml declares odapi:sshPort as string, the program reads it as integer");
  });
});

test("the models key defaults to the catalog's default set and names every catalog model", () => {
  const models = configKeys().models;
  expect(models.default).toEqual([...DEFAULT_CATALOG_MODELS]);
  for (const name of CATALOG_NAMES) expect(models.description).toContain(name);
});

describe("a malformed Pulumi.yaml is an error naming the key and the fix", () => {
  const withKey = (decl: string) => `name: odapi\nconfig:\n  gpu:\n${decl}`;
  test.each([
    [
      "a wrong type",
      withKey("    type: bool\n    description: d\n    default: false"),
      /config key gpu has type "bool"/,
    ],
    ["no default", withKey("    type: boolean\n    description: d"), /config key gpu has no default/],
    [
      "a default of another type",
      withKey("    type: boolean\n    description: d\n    default: 'no'"),
      /config key gpu has a default that is not a boolean/,
    ],
    ["no description", withKey("    type: boolean\n    default: false"), /config key gpu has no description/],
    [
      "an array without items",
      "name: odapi\nconfig:\n  models:\n    type: array\n    description: d\n    default: []",
      /config key models is an array without/,
    ],
    ["another project name", "name: other\nconfig: {}", /name is "other", not odapi/],
    ["not YAML", "name: [odapi", /is not valid YAML/],
  ])("%s", (_label, yamlText, message) => {
    const err = thrown(() => parseKeyTable(yamlText, "Pulumi.yaml"));
    expect(err.message).toMatch(message);
    expect(err.remedy).toMatch(/type \(string, integer, boolean, array\), description and default/);
    expect(err.exitCode).toBe(13);
  });
});

test.each(["cpu", "gpu", "dev"])(
  "Pulumi.%s.yaml sets only declared keys and no secret in clear text",
  (stack) => {
    const config = load(`Pulumi.${stack}.yaml`).config as Record<string, unknown>;
    for (const key of Object.keys(config)) {
      const [ns, name] = key.split(":");
      if (ns === NAMESPACE) expect(Object.keys(configKeys())).toContain(name);
      else expect(["aws"]).toContain(ns);
    }
    expect(config).not.toHaveProperty(`${NAMESPACE}:sshPrivateKey`);
    expect(JSON.stringify(config)).not.toContain("PRIVATE KEY");
  },
);

test("cpu is the Learner Lab stack, gpu the g4dn stack, dev the own-host stack", () => {
  expect(load("Pulumi.cpu.yaml").config).toMatchObject({
    "aws:region": "us-east-1",
    "odapi:learnerLab": true,
    "odapi:instanceType": "t3.large",
  });
  // no key pair to name and no key to download: the stack generates its login key
  expect(load("Pulumi.cpu.yaml").config).not.toHaveProperty("odapi:keyName");
  expect(load("Pulumi.gpu.yaml").config).toMatchObject({
    "odapi:gpu": true,
    "odapi:instanceType": "g4dn.xlarge",
  });
  expect(load("Pulumi.dev.yaml").config).toMatchObject({ "odapi:target": "host" });
});
