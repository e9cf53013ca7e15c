// The dev stack's *create* line, end to end: what Pulumi's local.Command would run (its command line, dir and
// environment, from the program under mocks) is run by /bin/sh against a real sshd. The real odapi CLI deploys
// with the stack's generated API key: gateway on the public port (8501, = the apiUrl output), TF Serving on the
// host's 127.0.0.1:18501; the wait goes through the SSH tunnel to that internal port, then one status request per
// model through the gateway's port with the key.
// No Docker engine here: a recording `docker` on the sshd session's PATH, the TF Serving REST double on
// 127.0.0.1:18501 and a key-checking double as the gateway on 127.0.0.1:8501 (skipped, with a warning, when another
// process holds either port).
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { type Sshd, startSshd } from "../../scripts/harness/sshd";
import { DEFAULT_INTERNAL_REST_PORT, DEFAULT_PUBLIC_PORT } from "../../serving/constants";
import { writeDockerDouble } from "../helpers/docker-double";
import { type FakeServing, startFakeTfServing } from "../helpers/fake-tf-serving";
import { makeTempDir, removeDir, writeModelVersion } from "../helpers/tmp";
import { API_KEY, ROOT, runLikeLocalCommand, runStack } from "./harness";

let tmp: string;
let sshd: Sshd | undefined;
let serving: FakeServing | undefined;
let gateway: FakeServing | undefined;
let listeners: net.Server[] = [];
let skip: string | undefined;
let callsFile: string;

/** 127.0.0.1:<port> → a REST double, or undefined when the port is taken. */
function forwardFixedPort(port: number, target: number): Promise<net.Server | undefined> {
  const server = net.createServer((sock) => {
    const up = net.connect(target, "127.0.0.1");
    sock.on("error", () => up.destroy());
    up.on("error", () => sock.destroy());
    sock.pipe(up).pipe(sock);
  });
  return new Promise((resolve) => {
    server.once("error", () => resolve(undefined));
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

beforeAll(async () => {
  tmp = makeTempDir("odapi-dev-create-");
  const docker = writeDockerDouble(tmp);
  callsFile = docker.callsFile;
  serving = await startFakeTfServing({ models: ["m"] });
  gateway = await startFakeTfServing({ models: ["m"], apiKey: API_KEY });
  const internal = await forwardFixedPort(DEFAULT_INTERNAL_REST_PORT, serving.port);
  const pub = await forwardFixedPort(DEFAULT_PUBLIC_PORT, gateway.port);
  listeners = [internal, pub].filter((l): l is net.Server => l !== undefined);
  if (!internal || !pub) {
    skip = `127.0.0.1:${DEFAULT_INTERNAL_REST_PORT} or :${DEFAULT_PUBLIC_PORT} is in use`;
    console.warn(`tests/infra/dev-stack-deploy.test.ts skipped: ${skip}`);
    return;
  }
  sshd = await startSshd({ extraConfig: docker.sshdConfig });
  await sshd.ready;
  writeModelVersion(path.join(tmp, "models"), "m", 1, { pb: "pb", index: "ix" });
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
  for (const l of listeners) await new Promise<void>((r) => l.close(() => r()));
  await serving?.close();
  await gateway?.close();
  removeDir(tmp);
});

test("pulumi's deploy line deploys behind the gateway and proves it through the tunnel to TF Serving's internal port", async () => {
  if (skip || !sshd || !serving || !gateway) return;
  const remoteDir = path.join(tmp, "remote");
  const run = await runStack("dev", {
    overrides: {
      "odapi:sshHost": "127.0.0.1",
      "odapi:sshPort": sshd.port,
      "odapi:sshUser": sshd.user,
      "odapi:hostKey": sshd.hostKey,
      "odapi:remoteDir": remoteDir,
      "odapi:sshPrivateKey": sshd.userKey,
      "odapi:models": [],
      "odapi:localModelsDir": path.join(tmp, "models"),
    },
    secretKeys: ["odapi:sshPrivateKey"],
  });
  if (run.error) throw run.error;
  const cmd = run.one("command:local:Command").inputs as {
    create: string;
    dir: string;
    environment: Record<string, string>;
  };
  expect(cmd.environment.ODAPI_API_KEY).toBe(API_KEY);
  expect(cmd.dir).toBe(ROOT);

  // Asynchronous: the REST double runs in this process and must keep answering.
  const r = await runLikeLocalCommand(cmd.create, cmd);
  expect(r.stderr).not.toMatch(/^error:/m);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ models: ["m"], skippedFiles: 0 });

  // The gateway holds the port the stack's apiUrl names; TF Serving listens on the host's loopback only.
  const calls = readFileSync(callsFile, "utf8");
  expect(calls).toMatch(
    new RegExp(`run .*--name odapi-gateway .*--publish 0\\.0\\.0\\.0:${DEFAULT_PUBLIC_PORT}:8080`),
  );
  expect(calls).toMatch(
    new RegExp(`run .*--name odapi-serving .*--publish 127\\.0\\.0\\.1:${DEFAULT_INTERNAL_REST_PORT}:8501`),
  );
  expect(run.outputs.apiUrl).toBe(`http://127.0.0.1:${DEFAULT_PUBLIC_PORT}`);
  expect(readFileSync(path.join(remoteDir, "config", "gateway.conf"), "utf8")).toContain(API_KEY);

  // The proof detection reached TF Serving through the tunnel, without the key (TF Serving has none).
  expect(serving.predictCalls.get("m")).toBe(1);
  expect(serving.requests.filter((q) => q.apiKey !== undefined)).toEqual([]);
  // Then the public path: the gateway's port, with the stack's key.
  expect(gateway.requests).toEqual([{ method: "GET", path: "/v1/models/m", apiKey: API_KEY }]);
  expect(r.stderr).toMatch(/gateway: port 8501 passes requests with the API key/);
}, 150_000);
