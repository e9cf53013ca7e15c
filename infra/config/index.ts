// The stack's typed configuration: keys and defaults from Pulumi.yaml (keys.ts), parsed from Pulumi's raw strings
// (parse.ts) and checked against the rule table (rules.ts) before any resource exists. No Pulumi runtime.
import { parseStackConfig } from "./parse";
import { configError } from "./problems";
import { configProblems } from "./rules";
import type { RawConfig, StackConfig } from "./types";

export {
  configKeys,
  fullKey,
  type KeySpec,
  type KeyTable,
  type KeyType,
  NAMESPACE,
  parseKeyTable,
} from "./keys";
export * from "./learner-lab";
export { parseStackConfig } from "./parse";
export { type ConfigProblem, configError } from "./problems";
export { configProblems, RULES, type Rule, type When } from "./rules";
export { type ConfigKey, type RawConfig, type StackConfig, TARGETS, type Target } from "./types";

/** Throws one OdapiError listing every problem (each with key, value, rule and fix); returns the config if clean. */
export function validateStackConfig(cfg: StackConfig): StackConfig {
  const problems = configProblems(cfg);
  if (problems.length) throw configError(problems);
  return cfg;
}

/** Parse + validate in one step: what index.ts calls with Pulumi's config. */
export function loadStackConfig(raw: RawConfig, env: NodeJS.ProcessEnv = {}): StackConfig {
  return validateStackConfig(parseStackConfig(raw, env));
}
