// A problem with the stack config (key, bad value, rule, fix) and the one error that lists them all.
import { OdapiError } from "../../common/errors";

export interface ConfigProblem {
  key: string;
  value: unknown;
  rule: string;
  fix: string;
}

/** One OdapiError (exit code 13) naming every problem's key, value and rule, and every fix. */
export function configError(problems: ConfigProblem[]): OdapiError {
  const lines = problems.map((p) => `${p.key} = ${JSON.stringify(p.value)}: ${p.rule}`);
  const fixes = problems.map((p) => p.fix);
  return new OdapiError(
    problems.length === 1
      ? `invalid stack config: ${lines[0]}`
      : `invalid stack config:\n  ${lines.join("\n  ")}`,
    fixes.length === 1 ? fixes[0] : fixes.map((f, i) => `(${i + 1}) ${f}`).join("; "),
    "config",
  );
}
