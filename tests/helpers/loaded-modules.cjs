// Preloaded with `node --require` by tests: on exit, writes the path of every module the process loaded
// (require.cache) to the file named by $ODAPI_LOADED_MODULES, one per line.
const fs = require("node:fs");

process.on("exit", () => {
  fs.writeFileSync(process.env.ODAPI_LOADED_MODULES, Object.keys(require.cache).join("\n"));
});
