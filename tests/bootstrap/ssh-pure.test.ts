// Pure parts of bootstrap/ssh and bootstrap/ssh/known-hosts: exact strings, decisions, error classification.
import { createHmac } from "node:crypto";
import { connectErrorOf, remoteCommandError } from "../../bootstrap/ssh/errors";
import { keyModeProblem } from "../../bootstrap/ssh/keys";
import {
  chooseKnownHosts,
  decideHostKey,
  fingerprint,
  hostKeyAlgorithmsFor,
  knownHostName,
  knownHostsLine,
  parseHostKey,
  parseKnownHosts,
  patternMatches,
  userKnownHostsFile,
} from "../../bootstrap/ssh/known-hosts";
import { backoffDelayMs } from "../../bootstrap/ssh/session";
import { ExitCode, parseRemoteErrorLine } from "../../common/errors";
import { remoteCommandLine, shellJoin, shellQuote } from "../../common/shell";

// Two real ed25519 public keys (made with ssh-keygen for this test).
const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKiJ0U0SBleng0zTyiezwxAIJznEdH6qmXnVvtH9qu2w";
const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZGZvGbZjqqw1mSScvu0XYhRYrPyFiSojFhEN3NRh9u";

describe("shellJoin", () => {
  test.each([
    [["ls", "-la", "/srv/odapi"], "ls -la /srv/odapi"],
    [["echo", ""], "echo ''"],
    [["echo", "a b"], "echo 'a b'"],
    [["echo", "it's"], "echo 'it'\\''s'"],
    [["sh", "-c", 'echo "$HOME" && id'], "sh -c 'echo \"$HOME\" && id'"],
    [["printf", "%s\n", "x"], "printf '%s\n' x"],
    [["mkdir", "-p", "/a/b=c,d@e+f:g"], "mkdir -p /a/b=c,d@e+f:g"],
    [["echo", "*", "?", "~", "!", ";"], "echo '*' '?' '~' '!' ';'"],
  ])("%j → %s", (argv, expected) => {
    expect(shellJoin(argv)).toBe(expected);
  });

  test("round-trips through a real POSIX shell", () => {
    const { execFileSync } = require("node:child_process") as typeof import("node:child_process");
    const words = ["a'b", 'c"d', "$(id)", "`x`", "e\\f", "new\nline", "", " lead", "ü"];
    const out = execFileSync("sh", ["-c", `printf '%s\\0' ${words.map(shellQuote).join(" ")}`], {
      encoding: "utf8",
    });
    expect(out.split("\0").slice(0, -1)).toEqual(words);
  });

  test("refuses an empty argv", () => {
    expect(() => shellJoin([])).toThrow(/empty argv/);
  });
});

describe("remoteCommandLine", () => {
  test("prefixes sudo -n -- only when asked and the user is not root", () => {
    expect(remoteCommandLine(["bash", "/srv/odapi/start.sh"], { sudo: true, user: "ubuntu" })).toBe(
      "sudo -n -- bash /srv/odapi/start.sh",
    );
    expect(remoteCommandLine(["bash", "/srv/odapi/start.sh"], { sudo: true, user: "root" })).toBe(
      "bash /srv/odapi/start.sh",
    );
    expect(remoteCommandLine(["bash", "/srv/my dir/start.sh"], { sudo: false, user: "ubuntu" })).toBe(
      "bash '/srv/my dir/start.sh'",
    );
  });
});

test("backoff doubles from 0.5 s and caps at 5 s", () => {
  expect([0, 1, 2, 3, 4, 5, 20].map((n) => backoffDelayMs(n))).toEqual([
    500, 1000, 2000, 4000, 5000, 5000, 5000,
  ]);
});

describe("known hosts", () => {
  test("names use [host]:port except for port 22", () => {
    expect(knownHostName("1.2.3.4", 22)).toBe("1.2.3.4");
    expect(knownHostName("1.2.3.4", 2222)).toBe("[1.2.3.4]:2222");
    expect(knownHostsLine("h", 2222, parseHostKey(KEY_A))).toBe(`[h]:2222 ${KEY_A}`);
  });

  test("fingerprints match OpenSSH's SHA256 format", () => {
    const { execFileSync } = require("node:child_process") as typeof import("node:child_process");
    const fs = require("node:fs") as typeof import("node:fs");
    const file = `${require("node:os").tmpdir()}/odapi-fp-${process.pid}.pub`;
    fs.writeFileSync(file, `${KEY_A} c\n`);
    try {
      const expected = execFileSync("ssh-keygen", ["-lf", file], { encoding: "utf8" }).split(" ")[1];
      expect(fingerprint(parseHostKey(KEY_A))).toBe(expected);
    } finally {
      fs.rmSync(file);
    }
  });

  test("parseHostKey accepts a .pub line with a comment and rejects junk with a usage error", () => {
    expect(parseHostKey(`${KEY_A} root@host\n`)).toEqual({
      type: "ssh-ed25519",
      base64: KEY_A.split(" ")[1],
    });
    expect(() => parseHostKey("ssh-ed25519")).toThrow(/expected two fields/);
    expect(() => parseHostKey(`ssh-rsa ${KEY_A.split(" ")[1]}`)).toThrow(/says ssh-ed25519, not ssh-rsa/);
    try {
      parseHostKey("hello world!");
    } catch (e) {
      expect(e).toMatchObject({ exitCode: ExitCode.usage });
    }
    expect.assertions(4);
  });

  test("parses plain, multi-name, marked and hashed entries, skipping comments", () => {
    const salt = Buffer.from("0123456789abcdefghij");
    const hash = createHmac("sha1", salt).update("[10.0.0.9]:2222").digest("base64");
    const text = [
      "# comment",
      "",
      `10.0.0.5,[10.0.0.6]:2222 ${KEY_A}`,
      `@revoked 10.0.0.7 ${KEY_B}`,
      `|1|${salt.toString("base64")}|${hash} ${KEY_B}`,
      "broken-line",
    ].join("\n");
    const entries = parseKnownHosts(text);
    expect(entries).toHaveLength(3);
    const [plain, , hashed] = entries.map((e) => e.patterns) as [string, string, string];
    expect(entries[1]).toMatchObject({ marker: "@revoked", patterns: "10.0.0.7" });
    expect(patternMatches(plain, "10.0.0.5", 22)).toBe(true);
    expect(patternMatches(plain, "10.0.0.6", 2222)).toBe(true);
    expect(patternMatches(plain, "10.0.0.6", 22)).toBe(false);
    expect(patternMatches(hashed, "10.0.0.9", 2222)).toBe(true);
    expect(patternMatches(hashed, "10.0.0.9", 22)).toBe(false);
  });

  test("decides: pinned wins, unknown is recorded, known must match, revoked is refused", () => {
    const a = parseHostKey(KEY_A);
    const b = parseHostKey(KEY_B);
    const entry = (k: typeof a, marker?: "@revoked") => ({
      patterns: "h",
      ...k,
      ...(marker ? { marker } : {}),
    });
    expect(decideHostKey(a, a, [entry(b)])).toEqual({ action: "accept", reason: "pinned" });
    expect(decideHostKey(a, b, [])).toEqual({ action: "reject", expected: [b], reason: "pinned" });
    expect(decideHostKey(a, undefined, [])).toEqual({ action: "record" });
    expect(decideHostKey(a, undefined, [entry(b), entry(a)])).toEqual({ action: "accept", reason: "known" });
    expect(decideHostKey(a, undefined, [entry(b)])).toMatchObject({ action: "reject", reason: "known" });
    expect(decideHostKey(a, a, [entry(a, "@revoked")])).toMatchObject({
      action: "reject",
      reason: "revoked",
    });
  });

  test("the expected key type is offered first so the server presents a key we can compare", () => {
    expect(hostKeyAlgorithmsFor([])).toBeUndefined();
    expect(hostKeyAlgorithmsFor(["ecdsa-sha2-nistp256"])?.slice(0, 2)).toEqual([
      "ecdsa-sha2-nistp256",
      "ssh-ed25519",
    ]);
    expect(hostKeyAlgorithmsFor(["ssh-rsa"])?.slice(0, 3)).toEqual([
      "rsa-sha2-512",
      "rsa-sha2-256",
      "ssh-rsa",
    ]);
  });
});

describe("errors", () => {
  const t = { user: "ubuntu", host: "10.0.0.5", port: 22 };

  test("connect errors: auth is final, refused/timeouts are retried, unknown host is final", () => {
    const auth = connectErrorOf(
      Object.assign(new Error("All configured"), { level: "client-authentication" }),
      t,
      20_000,
    );
    expect(auth.retry).toBe(false);
    expect(auth.error.exitCode).toBe(ExitCode.auth);
    const refused = connectErrorOf(Object.assign(new Error("x"), { code: "ECONNREFUSED" }), t, 20_000);
    expect(refused).toMatchObject({ retry: true, error: { exitCode: ExitCode.unreachable } });
    expect(refused.error.message).toBe(
      "10.0.0.5:22 refused the connection (nothing listens on that port yet)",
    );
    const timeout = connectErrorOf(
      Object.assign(new Error("Timed out"), { level: "client-timeout" }),
      t,
      20_000,
    );
    expect(timeout).toMatchObject({ retry: true, error: { exitCode: ExitCode.timeout } });
    expect(connectErrorOf(Object.assign(new Error("x"), { code: "ENOTFOUND" }), t, 1).retry).toBe(false);
    expect(connectErrorOf(Object.assign(new Error("x"), { code: "EHOSTUNREACH" }), t, 1).retry).toBe(true);
    expect(connectErrorOf(new Error("Handshake failed: no matching cipher"), t, 1).retry).toBe(false);
  });

  test("the odapi-error line of a remote script becomes the message and remedy", () => {
    expect(parseRemoteErrorLine("noise\nodapi-error: docker missing | fix: apt install docker.io\n")).toEqual(
      {
        problem: "docker missing",
        remedy: "apt install docker.io",
      },
    );
    expect(parseRemoteErrorLine("odapi-error: no fix given")).toEqual({
      problem: "no fix given",
      remedy: "see the output above",
    });
    expect(parseRemoteErrorLine("plain failure")).toBeUndefined();
  });

  test.each([
    [
      "sudo: a password is required\n",
      1,
      ExitCode.auth,
      /ubuntu cannot run sudo without a password on 10\.0\.0\.5/,
    ],
    [
      "cp: error writing 'x': No space left on device\n",
      1,
      ExitCode.remoteIo,
      /the disk on 10\.0\.0\.5 is full/,
    ],
    [
      "mkdir: cannot create directory '/srv/x': Permission denied\n",
      1,
      ExitCode.remoteIo,
      /permission denied on 10\.0\.0\.5/,
    ],
    ["bash: flock: command not found\n", 127, ExitCode.missingTool, /`flock` is not installed/],
    ["sh: 1: sudo: not found\n", 127, ExitCode.missingTool, /`sudo` is not installed on 10\.0\.0\.5/],
    ["something odd\n", 2, ExitCode.failure, /`flock -n x` failed on 10\.0\.0\.5 \(exit 2\): something odd/],
  ])("remote failure %j (exit %d)", (stderr, code, exit, message) => {
    const err = remoteCommandError(["flock", "-n", "x"], { code, stdout: "", stderr }, t);
    expect(err.exitCode).toBe(exit);
    expect(err.message).toMatch(message);
    expect(err.remedy.length).toBeGreaterThan(10);
  });

  test("key file modes: any group/other bit is too open", () => {
    expect(keyModeProblem(0o100600)).toBeUndefined();
    expect(keyModeProblem(0o100400)).toBeUndefined();
    expect(keyModeProblem(0o100640)).toBe("permissions 0640 are too open");
    expect(keyModeProblem(0o100604)).toBe("permissions 0604 are too open");
  });
});

describe("the trust-on-first-use store", () => {
  test("per user: $XDG_CONFIG_HOME/odapi/known_hosts, else ~/.config (a relative XDG_CONFIG_HOME counts as unset)", () => {
    expect(userKnownHostsFile({ XDG_CONFIG_HOME: "/x/cfg" }, "/home/ana")).toBe("/x/cfg/odapi/known_hosts");
    expect(userKnownHostsFile({}, "/home/ana")).toBe("/home/ana/.config/odapi/known_hosts");
    expect(userKnownHostsFile({ XDG_CONFIG_HOME: "" }, "/home/ana")).toBe(
      "/home/ana/.config/odapi/known_hosts",
    );
    expect(userKnownHostsFile({ XDG_CONFIG_HOME: "cfg" }, "/home/ana")).toBe(
      "/home/ana/.config/odapi/known_hosts",
    );
  });

  const entry = (base64: string) => ({ patterns: "h", type: "ssh-ed25519", base64 });
  const files: Record<string, ReturnType<typeof entry>[]> = {
    "/u/known": [entry("USER")],
    "/p/.odapi/known_hosts": [entry("LEGACY")],
    "/explicit": [entry("EXPLICIT")],
  };
  const read = (f: string) => files[f] ?? [];

  test("an explicit file alone decides and records", () => {
    expect(chooseKnownHosts("/explicit", "/u/known", "/p/.odapi/known_hosts", read)).toEqual({
      entries: [entry("EXPLICIT")],
      source: "/explicit",
      recordTo: "/explicit",
    });
  });

  test("the user store decides when it knows the host; else the legacy file, recorded (migrated) to the user store", () => {
    expect(chooseKnownHosts(undefined, "/u/known", "/p/.odapi/known_hosts", read)).toEqual({
      entries: [entry("USER")],
      source: "/u/known",
      recordTo: "/u/known",
    });
    expect(chooseKnownHosts(undefined, "/u/none", "/p/.odapi/known_hosts", read)).toEqual({
      entries: [entry("LEGACY")],
      source: "/p/.odapi/known_hosts",
      recordTo: "/u/none",
    });
    expect(chooseKnownHosts(undefined, "/u/none", "/q/.odapi/known_hosts", read)).toEqual({
      entries: [],
      source: "/u/none",
      recordTo: "/u/none",
    });
  });
});
