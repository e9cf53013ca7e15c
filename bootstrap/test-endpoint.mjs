#!/usr/bin/env zx
// Thin entry for `npx zx bootstrap/test-endpoint.mjs …`: the commands are `odapi detect` and `odapi bench` (cli/), the library is client/.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

// The tree is CommonJS: load it like bin/odapi.cjs does (compiled dist/, or TypeScript through tsx when not built).
const require = createRequire(import.meta.url);
const self = fileURLToPath(import.meta.url);
// Under zx, process.argv holds node, zx and this file before the user's flags; under node, node and this file.
const at = process.argv.findIndex((a) => path.resolve(a) === self);
const { main } = require("../bin/load.cjs").load("cli/client");
process.exitCode = await main(process.argv.slice(at + 1));
