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
