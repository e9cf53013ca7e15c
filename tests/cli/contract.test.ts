// The CLI contract every `odapi` command keeps, checked on the real binary (bin/odapi.cjs): commands load
// lazily, a repeated single-value flag is a usage error, unreadable files are exit 13 naming the file, Ctrl-C is
// 130, a failure prints its one line once, and --json prints exactly one JSON object also on failure.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import { COMMANDS } from "../../cli/commands";
import { ExitCode } from "../../common/errors";
import { ODAPI_BIN, REPO_ROOT as ROOT, type RunOptions, runOdapi, runProcess } from "../helpers/run";
import { makeTempDir, removeDir } from "../helpers/tmp";
import { hasCommand } from "../helpers/tools";

let tmp: string;
/** A real private key (0600), for runs that must get as far as connecting. */
let key: string;
beforeAll(() => {
  tmp = makeTempDir("odapi-contract-");
  chmodSync(tmp, 0o755); // the unreadable-file tests run as nobody below it
  key = path.join(tmp, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
});
afterAll(() => removeDir(tmp));

const env = { ODAPI_SSH_KEY: "", ODAPI_API_KEY: "", NO_COLOR: "1", FORCE_COLOR: undefined };
const odapi = (args: string[], opts: RunOptions = {}) => runOdapi(args, { cwd: tmp, ...opts, env });

/** The stdout of a --json run: exactly one JSON object. */
function onlyJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] as string);
}

/** The `error:` lines of a run's stderr. */
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("error:"));

/** A local TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((res) => s.listen(0, "127.0.0.1", res));
  const port = (s.address() as AddressInfo).port;
  await new Promise((res) => s.close(res));
  return port;
}

/** The modules `node bin/odapi.cjs …args` loaded, as source paths relative to the repository. */
async function loadedModules(
  args: string[],
): Promise<{ code: number | null; stdout: string; modules: string[] }> {
  const list = path.join(tmp, `loaded-${args.join("-")}.txt`);
  const r = await runProcess(
    process.execPath,
    ["--require", path.join(ROOT, "tests/helpers/loaded-modules.cjs"), ODAPI_BIN, ...args],
    { cwd: tmp, env: { ...env, ODAPI_LOADED_MODULES: list } },
  );
  const modules = readFileSync(list, "utf8")
    .split("\n")
    .map((m) => path.relative(ROOT, m))
    // The compiled build runs dist/cli/detect.js where tsx runs cli/detect.ts: name both as the source file.
    .map((m) => (m.startsWith("dist/") ? m.slice("dist/".length).replace(/\.js$/, ".ts") : m));
  return { code: r.code, stdout: r.stdout, modules };
}

const HEAVY = /node_modules\/(ssh2|jimp|@jimp|@pulumi|cli-table3|cli-progress)\//;

describe("lazy commands", () => {
  it("odapi --help lists every command without loading any command module or its dependencies", async () => {
    const r = await loadedModules(["--help"]);
    expect(r.code).toBe(0);
    for (const c of COMMANDS)
      expect(r.stdout).toMatch(new RegExp(`odapi ${c.name} +${c.describe.slice(0, 30)}`));
    expect(r.modules.filter((m) => HEAVY.test(m))).toEqual([]);
    for (const c of COMMANDS) expect(r.modules).not.toContain(`cli/${c.name}.ts`);
  });

  it("a command loads its own module and only what it needs", async () => {
    const detect = await loadedModules(["detect", "--help"]);
    expect(detect.code).toBe(0);
    expect(detect.modules).toContain("cli/detect.ts");
    expect(detect.modules.filter((m) => /node_modules\/(ssh2|@pulumi)\//.test(m))).toEqual([]);
    expect(detect.modules).not.toContain("cli/deploy.ts");
    // The tracer sees lazily loaded dependencies: status does load ssh2.
    const status = await loadedModules(["status", "--help"]);
    expect(status.modules.some((m) => m.includes("node_modules/ssh2/"))).toBe(true);
    expect(status.modules.filter((m) => /node_modules\/(jimp|@jimp|@pulumi)\//.test(m))).toEqual([]);
  });

  it("deploy loads the REST client and the progress bar only when a run needs them", async () => {
    const deploy = await loadedModules(["deploy", "--help"]);
    expect(deploy.code).toBe(0);
    expect(deploy.modules).toContain("bootstrap/deploy/index.ts");
    expect(deploy.modules.some((m) => m.includes("node_modules/ssh2/"))).toBe(true);
    expect(
      deploy.modules.filter((m) => m.startsWith("client/") || /node_modules\/cli-progress\//.test(m)),
    ).toEqual([]);
  });
});

describe("--help lists every exit code a command can return", () => {
  const codes: Record<string, number[]> = {
    deploy: [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 130],
    status: [0, 1, 2, 3, 4, 5, 8, 12, 13, 130],
    logs: [0, 1, 2, 3, 4, 5, 8, 9, 12, 13, 130],
    stop: [0, 1, 2, 3, 4, 5, 7, 8, 12, 13, 130],
    prepare: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 130],
    local: [0, 1, 2, 3, 8, 9, 12, 13, 14, 130],
    detect: [0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 130],
    bench: [0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 130],
  };
  it.each(Object.keys(codes))("odapi %s --help", async (name) => {
    const r = await odapi([name, "--help"]);
    expect(r.code).toBe(0);
    const text = r.stdout.replace(/\s+/g, " ");
    const list = text.match(/Exit codes: (.*)\./)?.[1] ?? "";
    const listed = [...list.matchAll(/(?:^|, )(\d+) /g)].map((m) => Number(m[1]));
    for (const code of codes[name] ?? []) expect(listed).toContain(code);
  });
});

describe("a repeated single-value flag is a usage error naming the flag", () => {
  const cases: [string, string[], string][] = [
    [
      "deploy",
      ["--host", "a", "--host", "b", "--user", "u", "--remote-dir", "/x", "--models", "m"],
      "--host",
    ],
    ["status", ["--host", "a", "--user", "u", "--remote-dir", "/x", "--remote-dir", "/y"], "--remote-dir"],
    ["logs", ["--host", "a", "--user", "u", "--remote-dir", "/x", "-n", "3", "--lines", "4"], "--lines"],
    ["stop", ["--host", "a", "--user", "u", "--remote-dir", "/x", "--port", "22", "--port", "23"], "--port"],
    ["prepare", ["--catalog", "ssd_mobilenet_v2", "--out", "a", "--out", "b"], "--out"],
    ["local", ["--models", "a", "--models", "b"], "--models"],
    ["detect", ["--url", "http://a", "--url", "http://b"], "--url"],
    ["bench", ["--url", "http://a", "--requests", "5", "--requests", "6"], "--requests"],
  ];
  it.each(cases)("odapi %s", async (name, args, flag) => {
    const r = await odapi([name, ...args, "--json"]);
    expect(r.code).toBe(ExitCode.usage);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(new RegExp(`^error: ${flag} was given 2 times`)),
    ]);
    expect(r.stderr).toContain(`fix: pass ${flag} once`);
    expect(onlyJson(r.stdout)).toMatchObject({ ok: false, error: { exitCode: ExitCode.usage } });
  });
});

describe("--json prints one JSON object on failure too, and the error line once", () => {
  it.each(["deploy", "status", "logs", "stop"])("odapi %s to a closed port", async (name) => {
    const port = await closedPort();
    const conn = ["--host", "127.0.0.1", "--port", String(port), "--user", "u", "--remote-dir", "/srv/x"];
    const extra = name === "deploy" ? ["--catalog", "ssd_mobilenet_v2", "--no-start"] : [];
    const r = await odapi([name, ...conn, "--key", key, "--connect-timeout", "0", ...extra, "--json"]);
    expect(r.code).toBe(ExitCode.unreachable);
    expect(errorLines(r.stderr)).toHaveLength(1);
    const doc = onlyJson(r.stdout);
    expect(doc).toEqual({
      ok: false,
      error: {
        message: expect.stringContaining(`127.0.0.1:${port}`),
        remedy: expect.any(String),
        exitCode: 3,
      },
    });
  });
});

// Root can read every file: the unreadable-file cases run the CLI as `nobody`.
const asNobody = process.getuid?.() === 0 && hasCommand("setpriv");
(asNobody ? describe : describe.skip)("an unreadable file is exit 13 naming the file and the fix", () => {
  const nobody = (args: string[]) =>
    runProcess(
      "setpriv",
      ["--reuid=nobody", "--regid=nogroup", "--clear-groups", process.execPath, ODAPI_BIN, ...args],
      { cwd: tmp, env },
    );
  const secret = (name: string, content = "x\n") => {
    const file = path.join(tmp, name);
    writeFileSync(file, content, { mode: 0o600 }); // root's, so nobody cannot read it
    return file;
  };
  const conn = ["--host", "127.0.0.1", "--user", "u", "--remote-dir", "/srv/x"];

  it("an SSH key file (status)", async () => {
    const key = secret("root-key");
    const r = await nobody(["status", ...conn, "--key", key, "--json"]);
    expect(r.code).toBe(ExitCode.config);
    expect(errorLines(r.stderr)).toEqual([`error: cannot read ${key}: permission denied (EACCES)`]);
    expect(r.stderr).toContain(`fix: check its permissions and those of its directories (ls -ld ${key})`);
    expect(onlyJson(r.stdout)).toMatchObject({ ok: false, error: { exitCode: ExitCode.config } });
  });

  it("a model file (deploy), before connecting", async () => {
    const models = path.join(tmp, "models");
    mkdirSync(path.join(models, "m", "1"), { recursive: true, mode: 0o755 });
    chmodSync(models, 0o755);
    chmodSync(path.join(models, "m"), 0o755);
    chmodSync(path.join(models, "m", "1"), 0o755);
    const pb = secret("models/m/1/saved_model.pb");
    const key = path.join(tmp, "nobody-key");
    writeFileSync(key, "unused\n", { mode: 0o600 });
    chmodSync(key, 0o600);
    await runProcess("chown", ["nobody", key]);
    const r = await nobody(["deploy", ...conn, "--key", key, "--models", models, "--no-start"]);
    expect(r.code).toBe(ExitCode.config);
    expect(errorLines(r.stderr)).toEqual([`error: cannot read ${pb}: permission denied (EACCES)`]);
    expect(r.stderr).not.toMatch(/connecting/);
  });

  it("an image (detect), before any request", async () => {
    const image = secret(
      "photo.jpg",
      readFileSync(path.join(ROOT, "samples/astronaut.jpg")).toString("latin1"),
    );
    const r = await nobody(["detect", "--url", `http://127.0.0.1:${await closedPort()}`, "--image", image]);
    expect(r.code).toBe(ExitCode.config);
    expect(errorLines(r.stderr)).toEqual([`error: cannot read ${image}: permission denied (EACCES)`]);
  });

  it("a SavedModel dir (prepare), before TensorFlow starts", async () => {
    const dir = path.join(tmp, "saved");
    mkdirSync(dir, { mode: 0o700 });
    const r = await nobody([
      "prepare",
      "--saved-model",
      dir,
      "--name",
      "mine",
      "--out",
      path.join(tmp, "out"),
    ]);
    expect(r.code).toBe(ExitCode.config);
    expect(errorLines(r.stderr)).toEqual([`error: cannot read ${dir}: permission denied (EACCES)`]);
    expect(r.stderr).not.toMatch(/runner:/);
  });
});

describe("Ctrl-C exits 130", () => {
  /**
   * Starts `odapi …args` and presses Ctrl-C once each time stderr matches the next pattern (one press per
   * pattern: signals sent back to back can merge into one), then returns the result.
   */
  function interrupt(args: string[], ...presses: RegExp[]) {
    let sent = 0;
    return odapi(args, {
      onStderr: (soFar, kill) => {
        const next = presses[sent];
        if (next?.test(soFar)) {
          sent++;
          kill("SIGINT");
        }
      },
    });
  }

  // prepare's remote runner connects the same way (with its own 60 s deadline).
  const ownFlags: Record<string, string[]> = {
    status: ["--connect-timeout", "60"],
    logs: ["--connect-timeout", "60"],
    stop: ["--connect-timeout", "60"],
    prepare: ["--runner", "remote", "--catalog", "ssd_mobilenet_v2"],
  };
  it.each(Object.keys(ownFlags))("odapi %s while it retries the connection", async (name) => {
    const port = await closedPort();
    const args = [name, "--host", "127.0.0.1", "--port", String(port), "--user", "u", "--key", key];
    const r = await interrupt(
      [...args, "--remote-dir", "/srv/x", ...(ownFlags[name] ?? []), "--json"],
      /retrying/,
    );
    expect(r.code).toBe(ExitCode.interrupted);
    expect(errorLines(r.stderr)).toEqual(["error: interrupted (Ctrl-C)"]);
    expect(onlyJson(r.stdout)).toMatchObject({ ok: false, error: { exitCode: ExitCode.interrupted } });
  });

  it("odapi deploy: the first Ctrl-C stops after the current step, still 130", async () => {
    const port = await closedPort();
    const conn = ["--host", "127.0.0.1", "--port", String(port), "--user", "u", "--key", key];
    const args = ["deploy", ...conn, "--remote-dir", "/srv/x", "--catalog", "ssd_mobilenet_v2", "--json"];
    const once = await interrupt([...args, "--connect-timeout", "3"], /retrying/);
    expect(once.stderr).toContain("interrupted: stopping after the current step");
    expect(once.code).toBe(ExitCode.interrupted);
    expect(errorLines(once.stderr)).toHaveLength(1);
    expect(onlyJson(once.stdout)).toMatchObject({ ok: false, error: { exitCode: ExitCode.interrupted } });
    // Twice: quit at once, long before the 60 s connect deadline.
    const twice = await interrupt(
      [...args, "--connect-timeout", "60"],
      /retrying/,
      /stopping after the current step/,
    );
    expect(twice.code).toBe(ExitCode.interrupted);
    expect(errorLines(twice.stderr)).toEqual(["error: interrupted (Ctrl-C)"]);
  });

  it("odapi detect against a server that never answers", async () => {
    const server = http.createServer(() => {});
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let child: { kill: (s: NodeJS.Signals) => boolean } | undefined;
    server.on("request", () => child?.kill("SIGINT"));
    try {
      const r = await odapi(["detect", "--url", url, "--out", path.join(tmp, "out"), "--json"], {
        onSpawn: (c) => {
          child = c;
        },
      });
      expect(r.code).toBe(ExitCode.interrupted);
      expect(errorLines(r.stderr)).toEqual(["error: interrupted (Ctrl-C)"]);
      expect(onlyJson(r.stdout)).toMatchObject({ ok: false, error: { exitCode: ExitCode.interrupted } });
    } finally {
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
    }
  });
});
