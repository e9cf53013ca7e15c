#!/usr/bin/env zx
// Thin entry for `npx zx bootstrap/test-endpoint.mjs …`: the commands are `odapi detect` and `odapi bench` (cli/), the library is client/.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { register } from "tsx/cjs/api";

// The TypeScript tree is CommonJS (tsconfig), so load it through tsx's require hook like bin/odapi.cjs does.
register();
const require = createRequire(import.meta.url);
const self = fileURLToPath(import.meta.url);
// Under zx, process.argv holds node, zx and this file before the user's flags; under node, node and this file.
const at = process.argv.findIndex((a) => path.resolve(a) === self);
const { main } = require("../cli/client.ts");
process.exitCode = await main(process.argv.slice(at + 1));
