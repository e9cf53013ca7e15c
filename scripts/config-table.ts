// infra/README.md's config key table, generated from Pulumi.yaml (the one declaration of the keys).
// Run: npx tsx scripts/config-table.ts           print the table
//      npx tsx scripts/config-table.ts --write   rewrite the table between the markers in infra/README.md
// tests/infra/readme-config.test.ts fails when the README's table is not this script's output.
import { readFileSync, writeFileSync } from "node:fs";
import { projectFile } from "../common/paths";
import { configKeys, type KeySpec, type KeyTable, NAMESPACE } from "../infra/config";

export const README = projectFile("infra", "README.md");
export const BEGIN =
  "<!-- config-table:begin (generated from Pulumi.yaml: npx tsx scripts/config-table.ts --write) -->";
export const END = "<!-- config-table:end -->";

/** Markdown-safe cell text: a `|` would split the cell, a `<name>` would read as an HTML tag. */
const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/</g, "\\<");

function defaultCell(spec: KeySpec): string {
  const d = spec.default;
  if (Array.isArray(d)) return `\`[${d.join(", ")}]\``;
  return d === "" ? '`""`' : `\`${String(d)}\``;
}

/** One padded markdown table: key, type, default, meaning (Pulumi.yaml's description). */
export function renderConfigTable(table: KeyTable): string {
  const rows = [
    ["key", "type", "default", "meaning"],
    ...Object.entries(table).map(([key, spec]) => [
      `\`${NAMESPACE}:${key}\``,
      spec.secret ? `${spec.type}, **secret**` : spec.type,
      defaultCell(spec),
      cell(spec.description),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(rows[0]), line(widths.map((w) => "-".repeat(w))), ...rows.slice(1).map(line)].join("\n");
}

/** The README with the text between the markers replaced by the table; an error when a marker is missing. */
export function withConfigTable(readme: string, table: KeyTable): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`infra/README.md lacks the markers ${BEGIN} … ${END}`);
  return `${readme.slice(0, start + BEGIN.length)}\n${renderConfigTable(table)}\n${readme.slice(end)}`;
}

if (require.main === module) {
  const table = renderConfigTable(configKeys());
  if (process.argv.includes("--write")) {
    writeFileSync(README, withConfigTable(readFileSync(README, "utf8"), configKeys()));
    process.stderr.write(`config-table: wrote ${Object.keys(configKeys()).length} keys into ${README}\n`);
  } else {
    process.stdout.write(`${table}\n`);
  }
}
