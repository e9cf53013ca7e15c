// The pure parts of the CLI contract: which flag was repeated, the exit-code list, which command runs, how a
// denied path, a docker failure and a script's odapi-error line are reported.

import { COMMANDS, invokedCommand } from "../../cli/commands";
import { exitCodeHelp } from "../../cli/exit-codes";
import { dockerFailure, withoutErrorLines } from "../../cli/remote-docker";
import { rejectRepeatedFlags, repeatedFlag } from "../../cli/repeated-flags";
import { ExitCode, failureJson, OdapiError, unreadableFileError } from "../../common/errors";
import { thrown } from "../helpers/errors";

const target = { user: "ubuntu", host: "203.0.113.7", port: 22 };

describe("repeated single-value flags", () => {
  it("names the long form of a repeated flag, never an array option", () => {
    const argv = {
      _: [],
      $0: "odapi",
      "remote-dir": ["/a", "/b"],
      remoteDir: ["/a", "/b"],
      model: ["x", "y"],
    };
    expect(repeatedFlag(argv, ["model"])).toBe("--remote-dir");
    expect(repeatedFlag({ _: [], n: [3, 4], lines: [3, 4] }, [])).toBe("--lines");
    expect(repeatedFlag({ _: [], publicPort: [1, 2] }, [])).toBe("--public-port");
    expect(repeatedFlag({ _: ["a", "b"], host: "h", catalog: ["a", "b"] }, ["catalog"])).toBeUndefined();
  });
  it("is a usage error with both values and the fix", () => {
    const err = thrown(() => rejectRepeatedFlags({ _: [], host: ["a", "b"] }, []));
    expect(err.exitCode).toBe(ExitCode.usage);
    expect(err.message).toBe("--host was given 2 times (a, b); it takes one value");
    expect(err.remedy).toBe("pass --host once");
  });
});

describe("exit-code help", () => {
  it("lists the command's codes in order, plus usage, config, Ctrl-C and 1 last", () => {
    expect(exitCodeHelp(["timeout", "unreachable"], { timeout: "too slow" })).toBe(
      "Exit codes: 0 ok, 2 bad flags, 3 unreachable, 8 too slow, 13 a local file or setting cannot be used " +
        "(unreadable file, bad key, bad stack), 130 interrupted (Ctrl-C), 1 anything else.",
    );
  });
});

describe("the command table", () => {
  it("finds the invoked command after global flags, and none for --help", () => {
    expect(invokedCommand(["--verbose", "deploy", "--host", "h"])?.name).toBe("deploy");
    expect(invokedCommand(["--help"])).toBeUndefined();
    expect(invokedCommand(["frob"])).toBeUndefined();
    expect(COMMANDS.map((c) => c.name)).toEqual([
      "local",
      "prepare",
      "deploy",
      "publish",
      "status",
      "logs",
      "stop",
      "start",
      "detect",
      "bench",
    ]);
  });
});

describe("errors as users see them", () => {
  it("names a denied path with what was being done", () => {
    const denied = Object.assign(new Error("EACCES: permission denied, mkdir '/srv/out'"), {
      code: "EACCES",
      syscall: "mkdir",
      path: "/srv/out",
    });
    const err = unreadableFileError(denied);
    expect(err?.message).toBe("cannot create /srv/out: permission denied (EACCES)");
    expect(err?.remedy).toContain("ls -ld /srv/out");
    expect(err?.exitCode).toBe(ExitCode.config);
    expect(
      unreadableFileError(Object.assign(new Error("x"), { code: "ENOENT", path: "/p" })),
    ).toBeUndefined();
  });
  it("prints one JSON object per failure, with the exit code", () => {
    expect(failureJson(new OdapiError("m", "r", "locked"))).toEqual({
      ok: false,
      error: { message: "m", remedy: "r", exitCode: ExitCode.locked },
    });
    expect(failureJson(new Error("boom"))).toEqual({
      ok: false,
      error: { message: "boom", remedy: "", exitCode: 1 },
    });
  });
});

describe("docker on the host", () => {
  const argv = ["docker", "ps"];
  it("tells no Docker, no engine and no sudo apart, each with its own fix", () => {
    const missing = dockerFailure(
      argv,
      { code: 1, stdout: "", stderr: "sudo: docker: command not found\n" },
      target,
    );
    expect(missing?.exitCode).toBe(ExitCode.missingTool);
    expect(missing?.message).toBe("docker is not installed on 203.0.113.7");
    const down = dockerFailure(
      argv,
      {
        code: 1,
        stdout: "",
        stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n",
      },
      target,
    );
    expect(down?.exitCode).toBe(ExitCode.missingTool);
    expect(down?.message).toBe("the Docker engine is not running on 203.0.113.7");
    expect(down?.remedy).toMatch(/systemctl start docker/);
    const sudo = dockerFailure(
      argv,
      { code: 1, stdout: "", stderr: "sudo: a password is required\n" },
      target,
    );
    expect(sudo?.exitCode).toBe(ExitCode.auth);
    expect(sudo?.remedy).toMatch(/passwordless sudo/);
    expect(sudo?.remedy).not.toMatch(/install/i);
    expect(dockerFailure(argv, { code: 0, stdout: "", stderr: "" }, target)).toBeUndefined();
  });
  it("a script that is not there is 'nothing deployed in that dir' (usage), not a missing Docker", () => {
    const err = dockerFailure(
      ["bash", "/opt/odapi/stop.sh"],
      { code: 127, stdout: "", stderr: "bash: /opt/odapi/stop.sh: No such file or directory\n" },
      target,
    );
    expect(err?.exitCode).toBe(ExitCode.usage);
    expect(err?.message).toMatch(
      /^\/opt\/odapi\/stop\.sh does not exist on 203\.0\.113\.7: nothing is deployed/,
    );
    expect(err?.message).not.toMatch(/docker/i);
  });
  it("keeps a script's own odapi-error line, with the exit code of its cause", () => {
    const res = {
      code: 1,
      stdout: "",
      stderr:
        "odapi-error: the Docker engine is not running or this user may not use it | fix: start it: systemctl start docker\n",
    };
    const err = dockerFailure(["bash", "stop.sh"], res, target);
    expect(err?.message).toBe("the Docker engine is not running or this user may not use it");
    expect(err?.remedy).toBe("start it: systemctl start docker");
    expect(err?.exitCode).toBe(ExitCode.missingTool);
  });
  it("streams a script's output without its odapi-error lines, across chunk borders", () => {
    let out = "";
    const s = withoutErrorLines((t) => {
      out += t;
    });
    s.push("stopping odapi-serv");
    s.push("ing\nodapi-err");
    s.push("or: down | fix: up\nlast");
    s.end();
    expect(out).toBe("stopping odapi-serving\nlast\n");
  });
});
