// The remote scripts run by real bash on real files: shellcheck-clean, all-or-nothing commit, hasher fallback.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  COMMIT_SCRIPT,
  commitCommand,
  commitText,
  HASH_SCRIPT,
  hashCommand,
  hashRequestText,
  OPS_SCRIPT,
  parseCommitOutput,
  parseHashOutput,
  parseState,
  STATE_SCRIPT,
  stateCommand,
} from "../../../bootstrap/transfer/remote-scripts";
import { tempDirPerTest } from "../../helpers/tmp";

const scratchDir = tempDirPerTest("odapi-scripts-");
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

function runArgv(argv: string[], stdin = "", env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(argv[0] as string, argv.slice(1), { input: stdin, env, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function put(rel: string, content: string | Buffer): void {
  const f = path.join(scratchDir(), rel);
  mkdirSync(path.dirname(f), { recursive: true });
  writeFileSync(f, content);
}

test("every script passes shellcheck", () => {
  for (const [name, script] of Object.entries({ STATE_SCRIPT, HASH_SCRIPT, OPS_SCRIPT, COMMIT_SCRIPT })) {
    const file = path.join(scratchDir(), `${name}.sh`);
    writeFileSync(file, `#!/bin/bash\n${script}\n`);
    expect(() => execFileSync("shellcheck", ["-s", "bash", file], { encoding: "utf8" })).not.toThrow();
  }
});

test("state lists files (not .odapi) with size, mtime, links and mode; creates .odapi", () => {
  put("models/a/1/x y.bin", "12345");
  put(".odapi/manifest.json", '{"format":1,"files":{}}');
  const st = parseState(runArgv(stateCommand(scratchDir())).stdout);
  expect(st.manifestText.trim()).toBe('{"format":1,"files":{}}');
  expect([...st.files.keys()]).toEqual(["models/a/1/x y.bin"]);
  expect(st.files.get("models/a/1/x y.bin")).toMatchObject({ size: 5, nlink: 1, mode: 0o644 });
  expect(st.freeBytes).toBeGreaterThan(0);
});

test("block hashes equal node's per-block sha256, the short tail block included", () => {
  const data = Buffer.alloc(300_000, 1);
  data.write("different", 150_000);
  put("f.bin", data);
  const out = parseHashOutput(
    runArgv(
      hashCommand(scratchDir()),
      hashRequestText([{ kind: "blocks", path: "f.bin", blockSize: 131072 }]),
    ).stdout,
  );
  expect(out.blocks.get("f.bin")).toEqual([
    sha(data.subarray(0, 131072)),
    sha(data.subarray(131072, 262144)),
    sha(data.subarray(262144)),
  ]);
});

function commitInput(staged: string, content: string) {
  return {
    verify: [{ sha256: sha(content), staged, final: "models/a/1/f.bin" }],
    ops: [
      { op: "swap" as const, staging: "models/a/.staging-1", live: "models/a/1", retired: "models/a/.old-1" },
    ],
    kept: { "config/c": { sha256: sha("c"), size: 1, mtime: "5.0" } },
  };
}

test("commit: verified files are swapped in and the manifest lists kept + placed files", () => {
  put("models/a/.staging-1/f.bin", "new");
  put("models/a/1/f.bin", "old");
  mkdirSync(path.join(scratchDir(), ".odapi"));
  const res = runArgv(
    commitCommand(scratchDir()),
    commitText(commitInput("models/a/.staging-1/f.bin", "new")),
  );
  expect(parseCommitOutput(res.stdout)).toEqual({ committed: true, mismatches: [] });
  expect(readFileSync(path.join(scratchDir(), "models/a/1/f.bin"), "utf8")).toBe("new");
  expect(existsSync(path.join(scratchDir(), "models/a/.staging-1"))).toBe(false);
  expect(existsSync(path.join(scratchDir(), "models/a/.old-1"))).toBe(false);
  const manifest = JSON.parse(readFileSync(path.join(scratchDir(), ".odapi/manifest.json"), "utf8"));
  expect(Object.keys(manifest.files).sort()).toEqual(["config/c", "models/a/1/f.bin"]);
  expect(manifest.files["models/a/1/f.bin"]).toMatchObject({ sha256: sha("new"), size: 3 });
});

test("commit: a hash mismatch or an input cut short changes nothing", () => {
  put("models/a/.staging-1/f.bin", "corrupt");
  put("models/a/1/f.bin", "old");
  mkdirSync(path.join(scratchDir(), ".odapi"));
  const bad = runArgv(
    commitCommand(scratchDir()),
    commitText(commitInput("models/a/.staging-1/f.bin", "new")),
  );
  expect(bad.code).toBe(3);
  expect(parseCommitOutput(bad.stdout).mismatches).toEqual(["models/a/.staging-1/f.bin"]);
  expect(readFileSync(path.join(scratchDir(), "models/a/1/f.bin"), "utf8")).toBe("old");

  put("models/a/.staging-1/f.bin", "new");
  const full = commitText(commitInput("models/a/.staging-1/f.bin", "new"));
  const cut = runArgv(commitCommand(scratchDir()), full.slice(0, full.indexOf("--odapi-end--")));
  expect(cut.code).toBe(4);
  expect(readFileSync(path.join(scratchDir(), "models/a/1/f.bin"), "utf8")).toBe("old");
  expect(existsSync(path.join(scratchDir(), ".odapi/manifest.json"))).toBe(false);
});

test("without openssl the scripts fall back to coreutils sha256sum", () => {
  // A PATH holding every tool the scripts use except openssl.
  const bin = path.join(scratchDir(), "bin");
  mkdirSync(bin);
  for (const tool of [
    "bash",
    "cat",
    "cut",
    "find",
    "xargs",
    "nproc",
    "mktemp",
    "rm",
    "mv",
    "split",
    "sha256sum",
    "wc",
    "mkdir",
    "dirname",
    "df",
    "tail",
    "ln",
    "chmod",
    "truncate",
  ]) {
    const where = execFileSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
    symlinkSync(where, path.join(bin, tool));
  }
  const env = { PATH: bin };
  const root = path.join(scratchDir(), "remote");
  mkdirSync(path.join(root, ".odapi"), { recursive: true });
  mkdirSync(path.join(root, "models/a/.staging-1"), { recursive: true });
  writeFileSync(path.join(root, "models/a/.staging-1/f.bin"), "new");
  const hashed = parseHashOutput(
    runArgv(
      ["bash", ...hashCommand(root).slice(1)],
      hashRequestText([{ kind: "full", path: "models/a/.staging-1/f.bin" }]),
      env,
    ).stdout,
  );
  expect(hashed.full.get("models/a/.staging-1/f.bin")).toBe(sha("new"));
  const res = runArgv(
    ["bash", ...commitCommand(root).slice(1)],
    commitText(commitInput("models/a/.staging-1/f.bin", "new")),
    env,
  );
  expect(parseCommitOutput(res.stdout).committed).toBe(true);
  expect(readFileSync(path.join(root, "models/a/1/f.bin"), "utf8")).toBe("new");
});
