// Command-line flags of the benchmark scripts: `--name value`.

/** The value after `--name` on the command line, or `fallback` when the flag or its value is missing. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : fallback;
}
