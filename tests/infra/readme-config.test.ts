// The READMEs cannot drift from Pulumi.yaml: infra/README.md's key table is scripts/config-table.ts's output, and
// every `odapi:<key>` any README names is a declared key.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { configKeys, NAMESPACE } from "../../infra/config";
import { BEGIN, END, README, renderConfigTable, withConfigTable } from "../../scripts/config-table";
import { ROOT } from "./harness";

/** Folders that hold no README of this project. */
const SKIP = new Set(["node_modules", ".git", ".venv", "dist", "models", "out"]);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (SKIP.has(e.name)) return [];
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return markdownFiles(p);
    return e.isFile() && e.name.endsWith(".md") ? [p] : [];
  });
}

/** `odapi:<key>` mentions; `odapi:infra:LoginKey`-style resource types are not config keys. */
const KEY_MENTION = new RegExp(`${NAMESPACE}:([A-Za-z][A-Za-z0-9]*)(?![A-Za-z0-9:])`, "g");

test("infra/README.md's config table is the one generated from Pulumi.yaml", () => {
  const readme = readFileSync(README, "utf8");
  expect(readme).toContain(BEGIN);
  expect(readme).toContain(renderConfigTable(configKeys()));
  // nothing else between the markers, so a stale hand edit there fails too
  expect(readme).toBe(withConfigTable(readme, configKeys()));
  for (const key of Object.keys(configKeys())) expect(readme).toContain(`| \`${NAMESPACE}:${key}\``);
});

test("the generator refuses a README without its markers", () => {
  expect(() => withConfigTable("# no table here\n", configKeys())).toThrow(END);
});

test("every odapi:<key> that a README names is declared in Pulumi.yaml", () => {
  const files = markdownFiles(ROOT);
  expect(files).toContain(path.join(ROOT, "README.md"));
  expect(files).toContain(README);
  const declared = Object.keys(configKeys());
  const unknown: string[] = [];
  let mentions = 0;
  for (const file of files) {
    for (const m of readFileSync(file, "utf8").matchAll(KEY_MENTION)) {
      mentions += 1;
      if (!declared.includes(m[1])) unknown.push(`${path.relative(ROOT, file)}: ${m[0]}`);
    }
  }
  expect(unknown).toEqual([]);
  expect(mentions).toBeGreaterThan(declared.length);
});

test("the check catches the keys README.md used to name (odapi:host, odapi:user)", () => {
  const text = "`pulumi up -s dev` with `odapi:host`, `odapi:user` and odapi:infra:LoginKey";
  expect([...text.matchAll(KEY_MENTION)].map((m) => m[1])).toEqual(["host", "user"]);
});
