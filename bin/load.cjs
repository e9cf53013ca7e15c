// Loads a module of the project for the entry points (bin/odapi.cjs, bootstrap/test-endpoint.mjs): the compiled
// JavaScript in dist/ (`npm ci` or `npm run build`), or the TypeScript through tsx when dist/ was never built or a
// source file changed after the build, so an edit never runs stale code. Plain CommonJS: it runs before any compiler.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const DIST = path.join(ROOT, "dist");
// Written last by scripts/build.mjs, only when tsc succeeded: { startedAt, sourceDirs }.
const STAMP = path.join(DIST, "build-stamp.json");

/** The first .ts file under dir modified after `since` (ms), or undefined. */
function newerSource(dir, since) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = newerSource(file, since);
      if (found) return found;
    } else if (entry.name.endsWith(".ts") && fs.statSync(file).mtimeMs > since) {
      return file;
    }
  }
  return undefined;
}

/** Where code comes from: `{ from: "dist" }`, or `{ from: "tsx", why }` with why = "never built" or the changed file. */
function chooseSource() {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(STAMP, "utf8"));
  } catch {
    return { from: "tsx", why: "never built" };
  }
  for (const dir of stamp.sourceDirs) {
    const changed = newerSource(path.join(ROOT, dir), stamp.startedAt);
    if (changed) return { from: "tsx", why: `${path.relative(ROOT, changed)} changed after the last build` };
  }
  return { from: "dist" };
}

/** The exports of a project module named by its path from the root without extension, e.g. "cli/main". */
function load(modulePath) {
  const source = chooseSource();
  if (source.from === "dist") return require(path.join(DIST, `${modulePath}.js`));
  // Only a person at a terminal is told; scripts and tests read stderr and must see the same output either way.
  if (source.why !== "never built" && process.stderr.isTTY) {
    process.stderr.write(
      `odapi: ${source.why}: running the TypeScript through tsx (slower) until \`npm run build\`\n`,
    );
  }
  require("tsx/cjs/api").register();
  return require(path.join(ROOT, `${modulePath}.ts`));
}

module.exports = { load, chooseSource, STAMP };
