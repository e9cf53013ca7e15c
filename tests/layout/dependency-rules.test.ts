// The layout rules (.dependency-cruiser.cjs) are live: the project passes them, and each kind of back-edge in a
// small tree built here fails them with the rule's name. `npm test` also runs them over the project itself.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../helpers/run";
import { tempDirPerTest } from "../helpers/tmp";

const CONFIG = path.join(REPO_ROOT, ".dependency-cruiser.cjs");
const DEPCRUISE = path.join(REPO_ROOT, "node_modules", ".bin", "depcruise");
const tmp = tempDirPerTest("odapi-layout-");

function cruise(cwd: string, targets: string[]): { status: number | null; out: string } {
  const r = spawnSync(DEPCRUISE, ["--config", CONFIG, "--output-type", "err", ...targets], {
    cwd,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A tree of files: path → the modules it imports (relative specifiers). */
function tree(files: Record<string, string[]>): string {
  const dir = tmp();
  writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "commonjs" } }));
  for (const [file, imports] of Object.entries(files)) {
    mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    const body = imports.map((m, i) => `import * as m${i} from "${m}";\nvoid m${i};`).join("\n");
    writeFileSync(path.join(dir, file), `${body}\nexport const x = 1;\n`);
  }
  return dir;
}

test("the project itself passes the layout rules", () => {
  const r = cruise(REPO_ROOT, [
    "index.ts",
    "scripts",
    "cli",
    "infra",
    "bootstrap",
    "client",
    "serving",
    "model-prep",
    "common",
    "tests",
  ]);
  expect(r.out).toMatch(/no dependency violations found/);
  expect(r.status).toBe(0);
});

test("imports down the layout pass", () => {
  const dir = tree({
    "cli/a.ts": ["../bootstrap/b", "../client/c", "../common/e"],
    "bootstrap/b.ts": ["../client/c", "../serving/d", "../model-prep/f"],
    "client/c.ts": ["../serving/d", "../common/e"],
    "serving/d.ts": ["../common/e"],
    "model-prep/f.ts": ["../common/e"],
    "common/e.ts": [],
  });
  const r = cruise(dir, ["cli", "bootstrap", "client", "serving", "model-prep", "common"]);
  expect(r.status).toBe(0);
});

test.each([
  [
    "common imports serving",
    { "common/e.ts": ["../serving/d"], "serving/d.ts": [] },
    "common-imports-only-down",
  ],
  [
    "serving imports bootstrap",
    { "serving/d.ts": ["../bootstrap/b"], "bootstrap/b.ts": [] },
    "serving-and-model-prep-imports-only-down",
  ],
  [
    "model-prep imports serving",
    { "model-prep/f.ts": ["../serving/d"], "serving/d.ts": [] },
    "leaves-stay-apart",
  ],
  [
    "client imports bootstrap",
    { "client/c.ts": ["../bootstrap/b"], "bootstrap/b.ts": [] },
    "client-imports-only-down",
  ],
  [
    "bootstrap imports cli",
    { "bootstrap/b.ts": ["../cli/a"], "cli/a.ts": [] },
    "bootstrap-imports-only-down",
  ],
  ["infra imports cli", { "infra/g.ts": ["../cli/a"], "cli/a.ts": [] }, "infra-imports-only-down"],
  [
    "production code imports tests",
    { "cli/a.ts": ["../tests/helpers/h"], "tests/helpers/h.ts": [] },
    "nothing-imports-tests",
  ],
  ["a cycle inside a folder", { "client/c.ts": ["./c2"], "client/c2.ts": ["./c"] }, "no-cycles"],
])("%s fails the rules", (_what, files, rule) => {
  const dir = tree(files as Record<string, string[]>);
  const r = cruise(
    dir,
    Object.keys(files).map((f) => f.split("/")[0] as string),
  );
  expect(r.status).not.toBe(0);
  expect(r.out).toContain(rule);
});
