// The compiled start (bin/load.cjs): in a scratch copy of the project, `odapi` runs the TypeScript through tsx until
// it is built, runs dist/ without tsx once built (scripts/build.mjs, what `npm ci` runs), and goes back to the
// TypeScript when a source is edited after the build, so stale JavaScript never runs. Processes as a user starts them.
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { REPO_ROOT, runProcess } from "../helpers/run";
import { makeTempDir, removeDir } from "../helpers/tmp";

const SOURCES = ["bin", "infra", "bootstrap", "cli", "client", "serving", "model-prep", "common"];
// Pulumi.yaml: infra/ reads its key table at run time.
const FILES = ["package.json", "Pulumi.yaml", "tsconfig.json", "tsconfig.build.json", "scripts/build.mjs"];
const USAGE_LINE = "Deploy and test an object detection REST API served by TensorFlow Serving.";

let root = "";

/** node_modules as links to the real packages, all but tsx when withTsx is false. */
function linkModules(withTsx: boolean): void {
  const own = path.join(root, "node_modules");
  rmSync(own, { recursive: true, force: true });
  mkdirSync(own);
  const real = path.join(REPO_ROOT, "node_modules");
  for (const name of readdirSync(real)) {
    if (name === ".bin" || (name === "tsx" && !withTsx)) continue;
    symlinkSync(path.join(real, name), path.join(own, name));
  }
}

function node(args: string[]) {
  return runProcess(process.execPath, args, { cwd: root, timeoutMs: 120_000 });
}

beforeAll(() => {
  root = makeTempDir("odapi-compiled-");
  for (const item of [...SOURCES, ...FILES])
    cpSync(path.join(REPO_ROOT, item), path.join(root, item), { recursive: true });
});
afterAll(() => removeDir(root));

test("a checkout that was never built runs the TypeScript through tsx", async () => {
  linkModules(true);
  expect(existsSync(path.join(root, "dist"))).toBe(false);
  const r = await node(["bin/odapi.cjs", "--help"]);
  expect(r.stderr).toBe("");
  expect(r.stdout).toContain(USAGE_LINE);
  expect(r.code).toBe(0);
}, 150_000);

test("the build writes dist/ and its stamp; the built CLI, a command's help and the shim run without tsx", async () => {
  const build = await node(["scripts/build.mjs"]);
  expect(build.stderr).toBe("");
  expect(build.code).toBe(0);
  const stamp = JSON.parse(readFileSync(path.join(root, "dist/build-stamp.json"), "utf8"));
  expect(stamp.sourceDirs).toEqual([
    "infra",
    "bootstrap",
    "cli",
    "client",
    "serving",
    "model-prep",
    "common",
  ]);

  linkModules(false);
  const help = await node(["bin/odapi.cjs", "--help"]);
  expect(help.stderr).toBe("");
  expect(help.stdout).toContain(USAGE_LINE);
  expect(help.code).toBe(0);
  const deploy = await node(["bin/odapi.cjs", "deploy", "--help"]);
  expect(deploy.stderr).toBe("");
  expect(deploy.stdout).toContain("--remote-dir");
  expect(deploy.code).toBe(0);
  const shim = await node(["bootstrap/test-endpoint.mjs", "--help"]);
  expect(shim.stderr).toBe("");
  expect(shim.stdout).toContain("--url");
  expect(shim.code).toBe(0);
  // Files the code reads at run time (model-prep/prepare.py, samples/) are found from dist/ too.
  const paths = await node([
    "-p",
    "require('./dist/common/paths.js').projectFile('model-prep', 'prepare.py')",
  ]);
  expect(paths.stdout.trim()).toBe(path.join(root, "model-prep", "prepare.py"));
}, 300_000);

test("a source edited after the build runs as edited, through tsx, not the stale dist/", async () => {
  const main = path.join(root, "cli", "main.ts");
  writeFileSync(main, readFileSync(main, "utf8").replace(USAGE_LINE, "Edited after the build."));
  expect(readFileSync(path.join(root, "dist", "cli", "main.js"), "utf8")).toContain(USAGE_LINE);

  linkModules(true);
  const r = await node(["bin/odapi.cjs", "--help"]);
  expect(r.stderr).toBe("");
  expect(r.stdout).toContain("Edited after the build.");
  expect(r.stdout).not.toContain(USAGE_LINE);
  expect(r.code).toBe(0);
}, 150_000);
