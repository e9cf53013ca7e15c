// The one-way layout (../shared/design.md): a folder imports only folders below it. `npm test` runs these rules,
// so a back-edge or a cycle fails the tests. Order, top to bottom:
//   index.ts, scripts/ → cli/ → infra/ → bootstrap/ → client/ → serving/, model-prep/ → common/
// tests/ may import anything; nothing outside tests/ imports tests/.
const LAYERS = ["cli", "infra", "bootstrap", "client", "serving|model-prep", "common"];
const PROJECT = "^(index\\.ts|scripts|cli|infra|bootstrap|client|serving|model-prep|common|tests)";

/** Folders a layer must not import: every layer above it, and its siblings on the same level. */
function above(i) {
  return LAYERS.slice(0, i).join("|");
}

const layerRules = LAYERS.map((layer, i) => ({
  name: `${layer.replace("|", "-and-")}-imports-only-down`,
  comment: `${layer} may import only the layers below it: ${LAYERS.slice(i + 1).join(", ") || "nothing but itself"}`,
  severity: "error",
  // bootstrap/test-endpoint.mjs is an entry point kept at the path users know (a shim over cli/), not engine code.
  from: { path: `^(${layer})/`, pathNot: "^bootstrap/test-endpoint\\.mjs$" },
  to: {
    path: `^(${[above(i), "scripts", "index\\.ts", "tests"].filter(Boolean).join("|")})(/|$)`,
  },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: "leaves-stay-apart",
      comment:
        "serving/ and model-prep/ are leaves: neither imports the other (shared things live in common/)",
      severity: "error",
      from: { path: "^(serving|model-prep)/" },
      to: { path: "^(serving|model-prep)/", pathNot: "^$1/" },
    },
    {
      name: "nothing-imports-tests",
      comment: "test support lives in tests/helpers or scripts/harness; production code never imports tests/",
      severity: "error",
      from: { pathNot: "^tests/" },
      to: { path: "^tests/" },
    },
    {
      name: "no-cycles",
      comment:
        "a cycle makes the load order (and so a lazy command's start-up cost) depend on who imports first",
      severity: "error",
      from: { path: PROJECT },
      to: { circular: true },
    },
    {
      name: "no-unresolvable",
      comment: "an import that resolves to nothing is a typo or a moved file",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|dist|\\.venv|models|out)/" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    // Resolve packages through their "exports" maps (jimp/fonts, tsx/cjs/api), as node does.
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["require", "import", "node", "default", "types"],
      mainFields: ["main", "types"],
    },
  },
};
