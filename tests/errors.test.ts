import { ExitCode, exitCodeOf, formatError, OdapiError } from "../common/errors";

describe("OdapiError", () => {
  it("prints the problem and the fix, with the exit code of its kind", () => {
    const err = new OdapiError(
      "host 10.0.0.1:22 refused the connection",
      "start sshd on the host",
      "unreachable",
    );
    expect(formatError(err)).toBe(
      "error: host 10.0.0.1:22 refused the connection\n  fix: start sshd on the host",
    );
    expect(exitCodeOf(err)).toBe(ExitCode.unreachable);
  });

  it("treats unexpected errors as generic failures and hides the stack unless verbose", () => {
    const err = new Error("boom");
    expect(exitCodeOf(err)).toBe(1);
    expect(formatError(err)).toBe("error: boom (rerun with --verbose for details)");
    expect(formatError(err, true)).toContain("at ");
  });
});
