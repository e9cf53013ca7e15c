// `odapi prepare` as a user runs it (bin/odapi.cjs): help, usage errors and exit codes. The TensorFlow part
// runs in tests/python/model_prep/test_model_prep_odapi_cli.py.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { CATALOG_NAMES } from "../../model-prep/catalog";

const REPO = path.resolve(__dirname, "../..");

function odapi(...args: string[]) {
  return spawnSync(process.execPath, [path.join(REPO, "bin", "odapi.cjs"), "prepare", ...args], {
    cwd: REPO,
    encoding: "utf8",
    env: { ...process.env, ODAPI_SSH_KEY: "" },
  });
}

test("--help documents every flag and the catalog", () => {
  const r = odapi("--help");
  expect(r.status).toBe(0);
  for (const flag of [
    "--catalog",
    "--saved-model",
    "--name",
    "--out",
    "--version",
    "--runner",
    "--if-exists",
    "--max-detections",
    "--cache-dir",
    "--refresh",
    "--mirror",
    "--host",
    "--port",
    "--user",
    "--key",
    "--host-key",
    "--remote-dir",
    "--python",
    "--json",
  ]) {
    expect(r.stdout).toContain(flag);
  }
  for (const name of CATALOG_NAMES) expect(r.stdout).toContain(name);
  expect(r.stdout).toContain("Version dir number");
});

test("usage errors exit 2 with the problem and the fix", () => {
  const none = odapi();
  expect(none.status).toBe(2);
  expect(none.stderr).toContain("error: nothing to prepare");
  expect(none.stderr).toContain("fix: pass --catalog NAME");

  const remote = odapi("--catalog", "ssd_mobilenet_v2", "--runner", "remote", "--host", "h");
  expect(remote.status).toBe(2);
  expect(remote.stderr).toContain("error: --runner remote needs --user, --remote-dir");

  const unknown = odapi("--catalog", "yolo");
  expect(unknown.status).toBe(2);
  expect(unknown.stderr).toMatch(/Invalid values|unknown catalog model/);
});

test("a missing SavedModel is exit 9 from prepare.py, nothing written", () => {
  const r = odapi(
    "--saved-model",
    "/nonexistent/model",
    "--name",
    "x",
    "--out",
    "/nonexistent/out",
    "--runner",
    "venv",
  );
  expect(r.status).toBe(9);
  expect(r.stderr).toContain("runner: venv (--runner venv)");
  expect(r.stderr).toContain("error: no SavedModel at /nonexistent/model (saved_model.pb is missing)");
});
