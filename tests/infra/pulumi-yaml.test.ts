// Pulumi.yaml declares every config key of infra/config.ts with the same type, default and description, and
// the stack files set only declared keys (plus provider keys such as aws:region) — never a secret in clear text.
import { readFileSync } from "node:fs";
import path from "node:path";
import yaml from "js-yaml";
import { CONFIG_KEYS, NAMESPACE } from "../../infra/config";
import type { Json } from "./harness";

const ROOT = path.resolve(__dirname, "../..");
const load = (f: string) => yaml.load(readFileSync(path.join(ROOT, f), "utf8")) as Record<string, Json>;
const project = load("Pulumi.yaml");

test("the project is a TypeScript nodejs program named after the config namespace", () => {
  expect(project.name).toBe(NAMESPACE);
  expect(project.runtime).toMatchObject({ name: "nodejs", options: { typescript: true } });
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
  expect(pkg.main).toBe("index.ts");
});

test("every key is declared with its type, description and default — and nothing else is", () => {
  expect(Object.keys(project.config).sort()).toEqual(Object.keys(CONFIG_KEYS).sort());
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
    const decl = project.config[key];
    expect([key, decl.type]).toEqual([key, spec.type]);
    expect([key, decl.default]).toEqual([key, spec.default]);
    expect([key, decl.description]).toEqual([key, spec.description]);
    expect([key, decl.secret ?? false]).toEqual([key, "secret" in spec ? spec.secret : false]);
    if (spec.type === "array") expect(decl.items).toEqual({ type: "string" });
  }
});

test.each(["cpu", "gpu", "dev"])(
  "Pulumi.%s.yaml sets only declared keys and no secret in clear text",
  (stack) => {
    const config = load(`Pulumi.${stack}.yaml`).config as Record<string, unknown>;
    for (const key of Object.keys(config)) {
      const [ns, name] = key.split(":");
      if (ns === NAMESPACE) expect(Object.keys(CONFIG_KEYS)).toContain(name);
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
    "odapi:keyName": "vockey",
  });
  expect(load("Pulumi.gpu.yaml").config).toMatchObject({
    "odapi:gpu": true,
    "odapi:instanceType": "g4dn.xlarge",
  });
  expect(load("Pulumi.dev.yaml").config).toMatchObject({ "odapi:target": "host" });
});
