// Compiles the TypeScript once into dist/ (tsconfig.build.json) so `odapi` starts without tsx. Run by `npm ci`
// (the `prepare` script) and `npm run build`. Plain JavaScript: it runs before anything is compiled.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const { STAMP } = require("../bin/load.cjs");
const CONFIG = "tsconfig.build.json";

let tsc;
try {
  tsc = require.resolve("typescript/bin/tsc");
} catch {
  // `npm ci --omit=dev` leaves out the compiler; bin/load.cjs then runs the TypeScript through tsx.
  console.warn("odapi build: typescript is not installed (--omit=dev?), so odapi runs through tsx");
  process.exit(0);
}

// Built beside dist/ and swapped in whole, so an odapi started during the build never loads half a tree.
const dist = path.dirname(STAMP);
const next = `${dist}.next`;
const old = `${dist}.old`;
// Sources changed while tsc runs must count as newer than the build, so the stamp holds the start time.
const startedAt = Date.now();
rmSync(next, { recursive: true, force: true });
const run = spawnSync(process.execPath, [tsc, "-p", CONFIG, "--outDir", next], {
  cwd: root,
  stdio: "inherit",
});
if (run.status !== 0) {
  rmSync(next, { recursive: true, force: true });
  console.error(`odapi build: tsc -p ${CONFIG} failed (above); dist/ is left as it was`);
  process.exit(run.status ?? 1);
}
// The folders bin/load.cjs watches for edits: the first segment of each "include" glob ("cli/**/*.ts" → "cli").
const { include } = JSON.parse(readFileSync(path.join(root, CONFIG), "utf8"));
const sourceDirs = [...new Set(include.map((glob) => glob.split("/")[0]))];
writeFileSync(
  path.join(next, path.basename(STAMP)),
  `${JSON.stringify({ startedAt, sourceDirs }, null, 2)}\n`,
);
rmSync(old, { recursive: true, force: true });
if (existsSync(dist)) renameSync(dist, old);
renameSync(next, dist);
rmSync(old, { recursive: true, force: true });
console.log(`odapi build: compiled ${sourceDirs.join(", ")} into dist/`);
