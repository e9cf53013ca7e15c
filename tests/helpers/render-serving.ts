// Prints renderServingFiles() output as JSON, for tools outside TypeScript (the pytest proto checks, debugging).
// Usage: npx tsx tests/helpers/render-serving.ts --json '<ServingOptions>'   (or a JSON array of them → an array of results)
import { isOdapiError } from "../../common/errors";
import { renderServingFiles } from "../../serving/index";
import type { ServingOptions } from "../../serving/types";

type Result =
  | { files: ReturnType<typeof renderServingFiles> }
  | { error: { message: string; remedy: string; exitCode: number } };

function renderOne(opts: ServingOptions): Result {
  try {
    return { files: renderServingFiles(opts) };
  } catch (err) {
    if (isOdapiError(err))
      return { error: { message: err.message, remedy: err.remedy, exitCode: err.exitCode } };
    throw err;
  }
}

function main(argv: string[]): void {
  const at = argv.indexOf("--json");
  if (at < 0 || argv[at + 1] === undefined) {
    process.stderr.write("usage: render-cli.ts --json '<ServingOptions or array of them>'\n");
    process.exitCode = 2;
    return;
  }
  const input = JSON.parse(argv[at + 1]) as ServingOptions | ServingOptions[];
  const output = Array.isArray(input) ? input.map(renderOne) : renderOne(input);
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main(process.argv.slice(2));
