// Every command line the READMEs show exists with the flags they show: each `odapi <command> --flag` (and each
// `bootstrap/test-endpoint.mjs --flag`) in a code span or code block is checked against that command's own --help.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ODAPI_BIN, REPO_ROOT } from "../helpers/run";

jest.setTimeout(120_000);

interface Shown {
  file: string;
  command: string;
  flags: string[];
}

function markdownFiles(): string[] {
  const r = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.md"], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  });
  return r.stdout.split("\n").filter((f) => f && !f.startsWith("node_modules/"));
}

/** The code of a markdown text: fenced blocks (not diagrams) and inline spans, continuation lines joined. */
function codeOf(markdown: string): string[] {
  const out: string[] = [];
  const fence = /^```([a-z]*)\n([\s\S]*?)^```/gm;
  for (const m of markdown.matchAll(fence)) {
    if (m[1] !== "mermaid") out.push(...(m[2] as string).replace(/\\\n\s*/g, " ").split("\n"));
  }
  const prose = markdown.replace(fence, "");
  for (const m of prose.matchAll(/`([^`\n]+)`/g)) out.push(m[1] as string);
  return out;
}

// An invocation starts a line of code (or follows `$`, `&&`, `;`, `(`): "odapi ssh2" inside a results table is not one.
const INVOCATION =
  /(?:^|&&|;|\(|\$)\s*(?:npx\s+)?(?:node\s+)?(?:bin\/odapi\.cjs|odapi)\s+([a-z][a-z-]*)([^|;&#]*)/g;
const SHIM = /bootstrap\/test-endpoint\.mjs([^|;&#]*)/g;
const flagsIn = (text: string) =>
  [...text.matchAll(/(?:^|\s|\[|\()(--[a-z][a-z0-9-]*)/g)].map((m) => m[1] as string);

function shownCommands(): Shown[] {
  const shown: Shown[] = [];
  for (const file of markdownFiles()) {
    for (const line of codeOf(readFileSync(path.join(REPO_ROOT, file), "utf8"))) {
      for (const m of line.matchAll(INVOCATION)) {
        shown.push({ file, command: m[1] as string, flags: flagsIn(m[2] as string) });
      }
      for (const m of line.matchAll(SHIM))
        shown.push({ file, command: "(test-endpoint.mjs)", flags: flagsIn(m[1] as string) });
    }
  }
  return shown;
}

const helpCache = new Map<string, string>();
function help(command: string): string {
  const cached = helpCache.get(command);
  if (cached !== undefined) return cached;
  const argv =
    command === "(test-endpoint.mjs)"
      ? [path.join(REPO_ROOT, "bootstrap", "test-endpoint.mjs"), "--help"]
      : [ODAPI_BIN, ...(command === "" ? [] : [command]), "--help"];
  const r = spawnSync(process.execPath, argv, { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 });
  const text = `${r.stdout}${r.stderr}`;
  helpCache.set(command, text);
  return text;
}

const shown = shownCommands();

test("the READMEs show odapi commands (the scan finds them)", () => {
  const commands = new Set(shown.map((s) => s.command));
  for (const c of ["deploy", "prepare", "status", "local", "(test-endpoint.mjs)"])
    expect(commands).toContain(c);
  expect(shown.filter((s) => s.flags.length > 0).length).toBeGreaterThan(10);
});

test("every command a README shows exists", () => {
  const listed = help("");
  const missing = [...new Set(shown.map((s) => s.command))]
    .filter((c) => c !== "(test-endpoint.mjs)")
    .filter((c) => !new RegExp(`^\\s+odapi ${c}\\b`, "m").test(listed))
    .map(
      (c) =>
        `odapi ${c} (in ${shown
          .filter((s) => s.command === c)
          .map((s) => s.file)
          .join(", ")})`,
    );
  expect(missing).toEqual([]);
});

test("every flag a README shows is one its command takes", () => {
  const unknown: string[] = [];
  for (const s of shown) {
    const text = help(s.command);
    for (const flag of s.flags) {
      const name = flag.replace(/^--no-/, "--");
      const known = [flag, name].some((f) => new RegExp(`(^|[\\s,])${f}(?![a-z0-9-])`, "m").test(text));
      if (!known) unknown.push(`${s.command} ${flag} (in ${s.file})`);
    }
  }
  expect([...new Set(unknown)]).toEqual([]);
});
