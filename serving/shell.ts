// POSIX shell quoting for the scripts rendered here: every argv element goes through shellQuote, never by hand.

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one word for bash; plain words stay readable, everything else is single-quoted. */
export function shellQuote(word: string): string {
  if (word.length > 0 && SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** One command line from an argv array. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}

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
