// Shell quoting for the rendered scripts: the project's one quoting function (bootstrap/ssh/shell.ts) plus a
// multi-line join that keeps long docker commands reviewable.
import { shellQuote } from "../bootstrap/ssh/shell";

export { shellJoin, shellQuote } from "../bootstrap/ssh/shell";

/** A long command split over lines with `\` so a rendered script stays reviewable: one flag (and its value) a line. */
export function shellJoinMultiline(argv: readonly string[], indent = "  "): string {
  const lines: string[][] = [];
  for (const word of argv.map(shellQuote)) {
    const current = lines[lines.length - 1];
    // A word joins the line only as the single value of a lone `--flag` (`--publish 127.0.0.1:8500:8500`).
    const isValue =
      current?.length === 1 &&
      current[0].startsWith("-") &&
      !current[0].includes("=") &&
      !word.startsWith("-");
    if (current && (isValue || (lines.length === 1 && current.length < 2))) current.push(word);
    else lines.push([word]);
  }
  return lines.map((words, i) => (i === 0 ? "" : indent) + words.join(" ")).join(" \\\n");
}
