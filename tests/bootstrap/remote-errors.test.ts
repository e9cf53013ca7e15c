// A host script that is not there (odapi stop/status before any deploy, or a mistyped --remote-dir) is named as
// such, not as a missing bash. Found by the rehearsal: `odapi stop` with nothing deployed said "`bash` is not installed".
import { remoteCommandError } from "../../bootstrap/ssh/errors";
import { ExitCode } from "../../common/errors";

const target = { user: "ubuntu", host: "10.0.0.5", port: 22 };

test("bash reporting a missing script: the script and the --remote-dir fix, exit 2", () => {
  const err = remoteCommandError(
    ["bash", "/opt/odapi/stop.sh"],
    { code: 127, stdout: "", stderr: "bash: /opt/odapi/stop.sh: No such file or directory\n" },
    target,
  );
  expect(err.message).toBe(
    "/opt/odapi/stop.sh does not exist on 10.0.0.5: nothing is deployed in that --remote-dir",
  );
  expect(err.remedy).toBe("pass the --remote-dir you deployed to, or deploy first (odapi deploy)");
  expect(err.exitCode).toBe(ExitCode.usage);
});

test("a missing program is still reported as not installed", () => {
  const err = remoteCommandError(
    ["bash", "/opt/odapi/stop.sh"],
    { code: 127, stdout: "", stderr: "sudo: bash: command not found\n" },
    target,
  );
  expect(err.message).toMatch(/^`bash` is not installed on 10\.0\.0\.5/);
  expect(err.exitCode).toBe(ExitCode.missingTool);
});
