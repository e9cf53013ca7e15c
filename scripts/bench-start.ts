// Start-up cost of odapi as whole processes: each entry point against a bare `node -e 0`, interleaved round by round
// (so machine load hits every row alike), medians of N rounds after one warm-up round. Prints a table.
// Run: npm run bench:start [-- rounds]   (default 7, at least 5; `npm run build` first to time the compiled start)
import { spawnSync } from "node:child_process";
import Table from "cli-table3";
import { OdapiError } from "../common/errors";
import { PROJECT_ROOT } from "../common/paths";
import { median } from "../common/stats";

// Plain CommonJS shared with bin/odapi.cjs: which code the entry points run now (dist/ or tsx).
const { chooseSource } = require("../bin/load.cjs") as {
  chooseSource: () => { from: "dist" } | { from: "tsx"; why: string };
};

const ANCHOR = "node -e 0";
const COMMANDS: [label: string, argv: string[]][] = [
  [ANCHOR, ["node", "-e", "0"]],
  ["node bin/odapi.cjs --help", ["node", "bin/odapi.cjs", "--help"]],
  ["node bin/odapi.cjs deploy --help", ["node", "bin/odapi.cjs", "deploy", "--help"]],
  ["node bootstrap/test-endpoint.mjs --help", ["node", "bootstrap/test-endpoint.mjs", "--help"]],
  ["npx odapi --help", ["npx", "odapi", "--help"]],
  // The start before the build existed: the TypeScript through tsx on every run.
  [
    "tsx: cli/main.ts --help (no build)",
    ["node", "--require", "tsx/cjs", "-e", 'require("./cli/main.ts").main(["--help"])'],
  ],
];

function parseRounds(arg: string | undefined): number {
  const rounds = Number(arg ?? 7);
  if (!Number.isInteger(rounds) || rounds < 5) {
    throw new OdapiError(
      `rounds must be a whole number ≥ 5, got ${arg}`,
      "run: npm run bench:start -- 7",
      "usage",
    );
  }
  return rounds;
}

/** Wall-clock ms of one whole process; a failing command stops the benchmark (its figure would mean nothing). */
function timeOnce([cmd, ...args]: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) {
    throw new OdapiError(
      `\`${[cmd, ...args].join(" ")}\` exited ${r.status}: ${r.stderr.trim()}`,
      "run it by hand",
    );
  }
  return ms;
}

/** Table rows: label, median ms, min ms, max ms, median ÷ the anchor's median. */
function startRows(samples: Map<string, number[]>, anchor: string): string[][] {
  const base = median(samples.get(anchor) ?? []);
  return [...samples].map(([label, xs]) => [
    label,
    median(xs).toFixed(0),
    Math.min(...xs).toFixed(0),
    Math.max(...xs).toFixed(0),
    `${(median(xs) / base).toFixed(2)}×`,
  ]);
}

function main(): void {
  const rounds = parseRounds(process.argv[2]);
  const source = chooseSource();
  process.stdout.write(
    `entry points run: ${source.from === "dist" ? "dist/ (compiled)" : `TypeScript through tsx (${source.why})`}\n`,
  );
  const samples = new Map<string, number[]>(COMMANDS.map(([label]) => [label, []]));
  for (let round = 0; round <= rounds; round++) {
    for (const [label, argv] of COMMANDS) {
      const ms = timeOnce(argv);
      if (round > 0) samples.get(label)?.push(ms);
    }
  }
  const table = new Table({
    head: ["process", "median ms", "min ms", "max ms", `÷ ${ANCHOR}`],
    style: { head: [], border: [] },
  });
  table.push(...startRows(samples, ANCHOR));
  process.stdout.write(`${table.toString()}\n${rounds} rounds, interleaved, after one warm-up round\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = err instanceof OdapiError ? err.exitCode : 1;
}
