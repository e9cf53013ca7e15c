// The OpenSSH sftp data path's pure parts: argv, batch lines, output and error parsing, which file goes where.
import { spawnSync } from "node:child_process";
import {
  batchSafePath,
  classifyOpenSshFailure,
  echoedCommand,
  OPENSSH_CIPHERS,
  OPENSSH_KEX_FIRST,
  opensshSftpArgv,
  pinnedKnownHosts,
  putLine,
} from "../../../bootstrap/transfer/openssh-batch";
import type { UploadItem } from "../../../bootstrap/transfer/plan";
import { splitTransports } from "../../../bootstrap/transfer/transports";

const input = {
  host: "203.0.113.7",
  port: 2222,
  user: "ubuntu",
  keyFile: "/tmp/odapi-sftp-x/key",
  knownHostsFile: "/tmp/odapi-sftp-x/known_hosts",
  hostKeyType: "ssh-ed25519",
  connectTimeoutS: 20,
  keepaliveIntervalS: 5,
  keepaliveCountMax: 3,
};

/** -o values by name; fails the test when an option is given twice (OpenSSH would silently keep the first). */
function options(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  argv.forEach((a, i) => {
    if (a !== "-o") return;
    const [k, v] = (argv[i + 1] as string).split(/=(.*)/);
    expect(out.has(k as string)).toBe(false);
    out.set(k as string, v as string);
  });
  return out;
}

test("argv: no user config, only our key, only the verified host key, batch from stdin, host last", () => {
  const argv = opensshSftpArgv(input);
  expect(argv.slice(0, 4)).toEqual(["-F", "none", "-b", "-"]);
  expect(argv[argv.indexOf("-P") + 1]).toBe("2222");
  expect(argv.at(-1)).toBe("203.0.113.7");
  const o = options(argv);
  expect(o.get("User")).toBe("ubuntu");
  expect(o.get("IdentityFile")).toBe(input.keyFile);
  expect(o.get("IdentitiesOnly")).toBe("yes");
  expect(o.get("IdentityAgent")).toBe("none");
  expect(o.get("BatchMode")).toBe("yes");
  expect(o.get("PasswordAuthentication")).toBe("no");
  expect(o.get("StrictHostKeyChecking")).toBe("yes");
  expect(o.get("UserKnownHostsFile")).toBe(input.knownHostsFile);
  expect(o.get("GlobalKnownHostsFile")).toBe("none");
  expect(o.get("HostKeyAlgorithms")).toBe("ssh-ed25519");
  expect(o.get("UpdateHostKeys")).toBe("no");
  expect(o.get("ForwardAgent")).toBe("no");
  expect(o.get("ConnectTimeout")).toBe("20");
  expect(o.get("ServerAliveInterval")).toBe("5");
  expect(o.get("Ciphers")?.split(",")[0]).toBe("aes128-gcm@openssh.com");
  expect(o.get("Ciphers")?.split(",")).toEqual(OPENSSH_CIPHERS);
  // curve25519 (what the ssh2 session negotiates) moves to the front; the client's defaults stay behind it.
  expect(o.get("KexAlgorithms")).toBe(`^${OPENSSH_KEX_FIRST.join(",")}`);
});

test("argv: RSA host keys allow the rsa-sha2 signatures; IPv6 literals get brackets", () => {
  const o = options(opensshSftpArgv({ ...input, hostKeyType: "ssh-rsa" }));
  expect(o.get("HostKeyAlgorithms")).toBe("rsa-sha2-512,rsa-sha2-256,ssh-rsa");
  expect(opensshSftpArgv({ ...input, host: "2001:db8::1" }).at(-1)).toBe("[2001:db8::1]");
});

test("the installed OpenSSH client accepts every option we pass (ssh -G parses them without connecting)", () => {
  const argv = opensshSftpArgv(input);
  const sshOptions = argv.flatMap((a, i) => (a === "-o" ? ["-o", argv[i + 1] as string] : []));
  const r = spawnSync("ssh", ["-G", "-F", "none", ...sshOptions, "-p", "2222", "203.0.113.7"], {
    encoding: "utf8",
  });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^ciphers aes128-gcm@openssh.com,/m);
  expect(r.stdout).toMatch(/^kexalgorithms curve25519-sha256,curve25519-sha256@libssh.org,\S+/m);
  expect(r.stdout).toMatch(/^stricthostkeychecking true$/m);
  expect(r.stdout).toMatch(/^user ubuntu$/m);
});

test("pinned known_hosts: one line in OpenSSH's format, [host]:port for other ports", () => {
  const key = { type: "ssh-ed25519", base64: "AAAAC3NzaC1lZDI1NTE5AAAAIB" };
  expect(pinnedKnownHosts("203.0.113.7", 2222, key)).toBe(
    "[203.0.113.7]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB\n",
  );
  expect(pinnedKnownHosts("example.org", 22, key)).toBe(
    "example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB\n",
  );
});

test("batch paths: only absolute paths sftp takes literally; anything else stays on ssh2", () => {
  expect(batchSafePath("/opt/odapi/models/ssd/.staging-1/variables/variables.data-00000-of-00001")).toBe(
    true,
  );
  expect(batchSafePath("/home/u/m/saved_model.pb")).toBe(true);
  for (const bad of [
    "relative/path",
    "/with space/x",
    '/quote"d',
    "/glob*",
    "/q?",
    "/br[a]",
    "/back\\slash",
    "/tab\tx",
    "/new\nline",
    "/umlaut-ä",
    "/$HOME",
  ]) {
    expect([bad, batchSafePath(bad)]).toEqual([bad, false]);
  }
  expect(putLine("/a/b", "/c/d")).toBe("put /a/b /c/d\n");
  expect(() => putLine("/a b", "/c")).toThrow(/not a batch-safe path/);
});

test("echoes: a line starting with the prompt is the next command", () => {
  expect(echoedCommand("sftp> put /a /b")).toBe("put /a /b");
  expect(echoedCommand("Remote working directory: /root")).toBeUndefined();
});

test("failures: SFTP statuses, lost connections and anything else (stderr as OpenSSH 9 prints it)", () => {
  expect(classifyOpenSshFailure('write remote "/d/x": Failure\r\n', 1)).toEqual({
    kind: "sftp",
    op: "write",
    remotePath: "/d/x",
    code: 4,
    message: 'write remote "/d/x": Failure',
  });
  expect(classifyOpenSshFailure('dest open "/ro/x": Permission denied\n', 1)).toMatchObject({
    kind: "sftp",
    op: "open",
    code: 3,
  });
  expect(classifyOpenSshFailure('dest open "/nodir/x": No such file or directory\n', 1)).toMatchObject({
    code: 2,
  });
  expect(classifyOpenSshFailure('write remote "/d/x": Connection lost\n', 1).kind).toBe("lost");
  expect(classifyOpenSshFailure("Connection closed\r\n", 255).kind).toBe("lost");
  expect(classifyOpenSshFailure("client_loop: send disconnect: Broken pipe\n", 1).kind).toBe("lost");
  expect(classifyOpenSshFailure("Timeout, server 10.0.0.1 not responding.\n", 255).kind).toBe("lost");
  expect(classifyOpenSshFailure("", 255)).toEqual({ kind: "lost", message: "sftp exited with code 255" });
  expect(classifyOpenSshFailure("stat /x: No such file or directory\n", 1)).toEqual({
    kind: "other",
    message: "stat /x: No such file or directory",
  });
});

test("split: whole local files with literal paths go to OpenSSH, largest first; ranges, in-memory and odd names to ssh2", () => {
  const item = (relPath: string, size: number, extra: Partial<UploadItem> = {}): UploadItem => ({
    file: { relPath, size, sha256: "0".repeat(64), mode: 0o644, localPath: `/m/${relPath}` },
    remotePath: relPath,
    ranges: [{ start: 0, end: size }],
    ...extra,
  });
  const small = item("models/a/1/saved_model.pb", 10);
  const big = item("models/a/1/variables/variables.data-00000-of-00001", 1000);
  const resumed = item("models/b/1/saved_model.pb", 100, { ranges: [{ start: 50, end: 100 }] });
  const spaced = item("models/a/1/assets/my vocab.txt", 5);
  const inMemory: UploadItem = {
    file: {
      relPath: "config/models.config",
      size: 3,
      sha256: "1".repeat(64),
      mode: 0o644,
      content: Buffer.from("abc"),
    },
    remotePath: "config/.models.config.odapi-part",
    ranges: [{ start: 0, end: 3 }],
  };
  const all = [small, resumed, big, spaced, inMemory];
  expect(splitTransports(all, "/opt/odapi", true)).toEqual({
    native: [big, small],
    rest: [resumed, spaced, inMemory],
  });
  expect(splitTransports(all, "/opt/odapi", false)).toEqual({ native: [], rest: all });
  expect(splitTransports([small], "/opt/my dir", true)).toEqual({ native: [], rest: [small] });
});
