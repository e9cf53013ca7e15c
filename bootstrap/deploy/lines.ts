// Remote output as whole lines: steps stream a script's output into the deploy log.

export interface LineStream {
  push(chunk: string): void;
  /** Logs a last line that had no newline. */
  flush(): void;
}

/** Splits streamed output into whole, non-blank lines for `log`. */
export function wholeLines(log: (line: string) => void): LineStream {
  let rest = "";
  return {
    push(chunk) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) if (line.trim()) log(line);
    },
    flush() {
      if (rest.trim()) log(rest);
      rest = "";
    },
  };
}

/** Streams remote output to `log` one whole line at a time, indented under the step's own line. */
export function lineLogger(log: (line: string) => void): (chunk: string) => void {
  const lines = wholeLines((line) => log(`  ${line}`));
  return (chunk) => lines.push(chunk);
}
