// `odapi prepare` as a user runs it (bin/odapi.cjs): help, usage errors and exit codes. The TensorFlow part
// runs in tests/python/model_prep/test_model_prep_odapi_cli.py.
import { CATALOG_NAMES } from "../../model-prep/catalog";
import { REPO_ROOT, runOdapi } from "../helpers/run";

function odapi(...args: string[]) {
  return runOdapi(["prepare", ...args], { cwd: REPO_ROOT, env: { ODAPI_SSH_KEY: "" } });
}

test("--help documents every flag and the catalog", async () => {
  const r = await odapi("--help");
  expect(r.code).toBe(0);
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

test("usage errors exit 2 with the problem and the fix", async () => {
  const none = await odapi();
  expect(none.code).toBe(2);
  expect(none.stderr).toContain("error: nothing to prepare");
  expect(none.stderr).toContain("fix: pass --catalog NAME");

  const remote = await odapi("--catalog", "ssd_mobilenet_v2", "--runner", "remote", "--host", "h");
  expect(remote.code).toBe(2);
  expect(remote.stderr).toContain("error: --runner remote needs --user, --remote-dir");

  const unknown = await odapi("--catalog", "yolo");
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/Invalid values|unknown catalog model/);
});

test("a missing SavedModel is exit 9 from prepare.py, nothing written", async () => {
  const r = await odapi(
    "--saved-model",
    "/nonexistent/model",
    "--name",
    "x",
    "--out",
    "/nonexistent/out",
    "--runner",
    "venv",
  );
  expect(r.code).toBe(9);
  expect(r.stderr).toContain("runner: venv (--runner venv)");
  expect(r.stderr).toContain("error: no SavedModel at /nonexistent/model (saved_model.pb is missing)");
});
