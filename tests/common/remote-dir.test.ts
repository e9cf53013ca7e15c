// The one remote-dir rule that --remote-dir, odapi:remoteDir and the serving renderers share.
import { ExitCode, OdapiError } from "../../common/errors";
import { checkRemoteDir, isPlainRemoteDir } from "../../common/remote-dir";

test.each(["/opt/odapi", "/home/a user/my odapi", "/srv/odapi-2.0/x_y", "/opt/odapi/"])(
  "accepts %j",
  (dir) => {
    expect(isPlainRemoteDir(dir)).toBe(true);
  },
);

test.each([
  "opt/odapi",
  "",
  "/",
  "//",
  "/opt/../etc",
  "/opt/..",
  "/opt/a,b",
  "/opt/a:b",
  '/opt/"x"',
  "/opt/'x'",
  "/opt/a\\b",
  "/opt/a\nb",
  "/opt/a\tb",
  "/opt/a\u0000b",
])("rejects %j", (dir) => {
  expect(isPlainRemoteDir(dir)).toBe(false);
  expect(() => checkRemoteDir(dir)).toThrow(OdapiError);
});

test("strips trailing slashes and names the source and exit kind in the error", () => {
  expect(checkRemoteDir("/opt/odapi//")).toBe("/opt/odapi");
  const flag = (() => {
    try {
      checkRemoteDir("relative");
    } catch (e) {
      return e as OdapiError;
    }
  })();
  expect(flag?.message).toBe(
    `--remote-dir "relative" must be an absolute path, not /, with no '..' and none of , : quotes \\ or control characters`,
  );
  expect(flag?.remedy).toMatch(/--remote-dir \/opt\/odapi/);
  expect(flag?.exitCode).toBe(ExitCode.usage);
  expect(() => checkRemoteDir("/", "remoteDir", "config")).toThrow(
    expect.objectContaining({ exitCode: ExitCode.config, message: expect.stringMatching(/^remoteDir "\/"/) }),
  );
});
