// Remote output as whole lines: steps stream a script's output into the deploy log.

/** Streams remote output to `log` one whole line at a time, indented under the step's own line. */
export function lineLogger(log: (line: string) => void): (chunk: string) => void {
  let rest = "";
  return (chunk) => {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    for (const line of parts) if (line.trim()) log(`  ${line}`);
  };
}
