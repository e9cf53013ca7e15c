#!/usr/bin/env node
// The `odapi` command: the compiled CLI from dist/, or the TypeScript through tsx in a checkout with no fresh build (load.cjs).
require("./load.cjs").load("cli/main").main(process.argv.slice(2));
