// bootstrap/ssh/session against a real OpenSSH server started by the test.
import { connect, type SshSession } from "../../bootstrap/ssh/session";
import { type Sshd, startSshd } from "../../scripts/harness/sshd";

let sshd: Sshd;
let session: SshSession;

beforeAll(async () => {
  sshd = await startSshd();
  session = await connect(sshd.target(), { readyTimeoutMs: 5000 });
});

afterAll(async () => {
  await session?.close();
  await sshd?.stop();
});

test("exec runs an argv with awkward characters exactly, returning code, stdout and stderr", async () => {
  const weird = 'it\'s a "test" $HOME `id` ; rm -rf / *';
  const res = await session.exec(["sh", "-c", 'printf %s "$1"; echo oops >&2; exit 3', "sh", weird]);
  expect(res).toEqual({ code: 3, stdout: weird, stderr: "oops\n" });
});

test("exec passes stdin and streams output", async () => {
  const chunks: string[] = [];
  const res = await session.exec(["cat"], { stdin: "hello\nworld\n", onOutput: (c) => chunks.push(c) });
  expect(res.stdout).toBe("hello\nworld\n");
  expect(chunks.join("")).toBe("hello\nworld\n");
});

test("exec consumes large output without stalling the channel", async () => {
  const res = await session.exec(["head", "-c", "5000000", "/dev/zero"]);
  expect(res.code).toBe(0);
  expect(res.stdout.length).toBe(5_000_000);
});

test("run throws the remote script's odapi-error line as the error", async () => {
  await expect(
    session.run(["sh", "-c", "echo 'odapi-error: docker is missing | fix: install docker' >&2; exit 1"]),
  ).rejects.toMatchObject({ message: "docker is missing", remedy: "install docker" });
});

test("exec times out with a timeout error", async () => {
  const t0 = Date.now();
  await expect(session.exec(["sleep", "30"], { timeoutMs: 500 })).rejects.toMatchObject({ exitCode: 8 });
  expect(Date.now() - t0).toBeLessThan(5000);
});

test("sftp and a second connection work", async () => {
  const other = await session.openAnother();
  try {
    const sftp = await other.sftp();
    const names = await new Promise<string[]>((resolve, reject) =>
      sftp.readdir(sshd.dir, (err, list) => (err ? reject(err) : resolve(list.map((e) => e.filename)))),
    );
    expect(names).toContain("sshd_config");
  } finally {
    await other.close();
  }
});

test("forwardPort reaches a port on the server's loopback", async () => {
  const fwd = await session.forwardPort(sshd.port);
  try {
    const net = await import("node:net");
    const banner = await new Promise<string>((resolve, reject) => {
      const s = net.connect(fwd.localPort, "127.0.0.1");
      s.once("data", (d) => {
        resolve(d.toString());
        s.destroy();
      });
      s.once("error", reject);
    });
    expect(banner).toMatch(/^SSH-2\.0-OpenSSH/);
  } finally {
    await fwd.close();
  }
});
