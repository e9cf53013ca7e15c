// Remote command lines built from argv arrays (pure): the only place quoting happens.

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX-quotes one word: left bare when it holds only safe characters, else single-quoted. */
export function shellQuote(word: string): string {
  if (word === "") return "''";
  if (SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** POSIX-quotes an argv into one command line for `sh -c` on the remote side. */
export function shellJoin(argv: string[]): string {
  if (argv.length === 0) throw new Error("shellJoin: empty argv");
  return argv.map(shellQuote).join(" ");
}

/** Whether a command asked to run as root needs `sudo`: only when the login user is not root. */
export function needsSudo(sudo: boolean, user: string): boolean {
  return sudo && user !== "root";
}

/** The command line sent over SSH: `sudo -n --` (never prompts: no TTY) when needed, then the quoted argv. */
export function remoteCommandLine(argv: string[], opts: { sudo: boolean; user: string }): string {
  return shellJoin(needsSudo(opts.sudo, opts.user) ? ["sudo", "-n", "--", ...argv] : argv);
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
