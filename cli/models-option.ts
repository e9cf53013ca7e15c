// --models: the local dir of prepared models, the same flag for `odapi deploy` and `odapi publish`.

export const MODELS_DIR_OPTION = {
  type: "string",
  describe: "Local dir of prepared models: <name>/<version>/saved_model.pb … (from `odapi prepare`)",
} as const;
