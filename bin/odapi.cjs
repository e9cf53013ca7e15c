#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx odapi` works right after `npm ci` without a build step.
require("tsx/cjs/api").register();
require("../cli/main.ts").main(process.argv.slice(2));
