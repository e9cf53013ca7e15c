// A flag that takes one value, given twice (`--host a --host b`), is a usage error naming it; yargs would pass an
// array on to code expecting a string.
import { OdapiError } from "../common/errors";

/** The first single-value flag given more than once, as `--name`, or undefined (pure). */
export function repeatedFlag(argv: Record<string, unknown>, arrayOptions: string[]): string | undefined {
  const arrays = new Set(arrayOptions.flatMap((k) => [k, camel(k)]));
  const repeated = Object.keys(argv).filter(
    (k) => k !== "_" && k !== "$0" && Array.isArray(argv[k]) && !arrays.has(k) && !arrays.has(camel(k)),
  );
  // yargs stores each flag under its name, its camelCase twin and its short alias: name the long form.
  const best = repeated.find((k) => k.includes("-")) ?? repeated.find((k) => k.length > 1) ?? repeated[0];
  return best === undefined ? undefined : `--${kebab(best)}`;
}

/** Throws the usage error for a repeated single-value flag (run before yargs' own validation). */
export function rejectRepeatedFlags(argv: Record<string, unknown>, arrayOptions: string[]): void {
  const flag = repeatedFlag(argv, arrayOptions);
  if (!flag) return;
  const values = argv[flag.slice(2)] as unknown[];
  throw new OdapiError(
    `${flag} was given ${values.length} times (${values.join(", ")}); it takes one value`,
    `pass ${flag} once`,
    "usage",
  );
}

function camel(k: string): string {
  return k.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

function kebab(k: string): string {
  return k.includes("-") ? k : k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
