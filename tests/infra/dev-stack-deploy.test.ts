// The dev stack's *create* line, end to end: what Pulumi's local.Command would run (its command line, dir and
// environment, from the program under mocks) is run by /bin/sh against a real sshd. The real odapi CLI deploys
// with the stack's generated API key: gateway on the public port (8501, = the apiUrl output), TF Serving on the
// host's 127.0.0.1:18501; the wait goes through the SSH tunnel to that internal port, then one status request per
// model through the gateway's port with the key, over TLS with the stack's own certificate (odapi:tlsCert/tlsKey).
// No Docker engine here: a recording `docker` on the sshd session's PATH, the TF Serving REST double on
// 127.0.0.1:18501 and a key-checking double as the gateway on 127.0.0.1:8501. Those ports are fixed by the stack
// (apiUrl names 8501): when another process holds one, the test is reported as skipped, with the reason in its name.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { ensureGeneratedTls } from "../../bootstrap/tls/identity";
import { type Sshd, startSshd } from "../../scripts/harness/sshd";
import type { TlsIdentity } from "../../serving";
import { DEFAULT_INTERNAL_REST_PORT, DEFAULT_PUBLIC_PORT } from "../../serving/constants";
import { writeDockerDouble } from "../helpers/docker-double";
import { type FakeServing, startFakeTfServing } from "../helpers/fake-tf-serving";
import { makeTempDir, removeDir, writeModelVersion } from "../helpers/tmp";
import { API_KEY, ROOT, runLikeLocalCommand, runStack } from "./harness";

let tmp: string;
let sshd: Sshd | undefined;
let serving: FakeServing | undefined;
let gateway: FakeServing | undefined;
const listeners: net.Server[] = [];
let callsFile: string;
let gatewayTls: TlsIdentity;

/** Whether 127.0.0.1:<port> can be bound now (checked synchronously, so jest can skip before it collects tests). */
function portIsFree(port: number): boolean {
  const probe = `require("net").createServer().once("error",()=>process.exit(1)).listen(${port},"127.0.0.1",()=>process.exit(0))`;
  return spawnSync(process.execPath, ["-e", probe]).status === 0;
}

const busy = [DEFAULT_INTERNAL_REST_PORT, DEFAULT_PUBLIC_PORT].filter((p) => !portIsFree(p));
const SKIP = busy.length ? ` [SKIPPED: 127.0.0.1:${busy.join(", :")} in use by another process]` : "";
// A visible skip: jest counts it as skipped and prints the reason; it never passes without its assertions.
const maybe = busy.length ? test.skip : test;

/** 127.0.0.1:<port> → a REST double (through TLS termination when given a certificate); fails when the port was taken after the probe. */
function forwardFixedPort(port: number, target: number, tlsId?: TlsIdentity): Promise<net.Server> {
  const relay = (sock: net.Socket) => {
    const up = net.connect(target, "127.0.0.1");
    sock.on("error", () => up.destroy());
    up.on("error", () => sock.destroy());
    sock.pipe(up).pipe(sock);
  };
  const server = tlsId
    ? tls.createServer({ cert: tlsId.certPem, key: tlsId.keyPem }, relay)
    : net.createServer(relay);
  return new Promise((resolve, reject) => {
    server.once("error", (err) =>
      reject(new Error(`127.0.0.1:${port} was free a moment ago: ${err.message}`)),
    );
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

beforeAll(async () => {
  if (busy.length) return;
  tmp = makeTempDir("odapi-dev-create-");
  const docker = writeDockerDouble(tmp);
  callsFile = docker.callsFile;
  serving = await startFakeTfServing({ models: ["m"] });
  gateway = await startFakeTfServing({ models: ["m"], apiKey: API_KEY });
  // The stack's own certificate (odapi:tlsCert/tlsKey) for 127.0.0.1; the gateway double serves it over TLS.
  gatewayTls = ensureGeneratedTls("127.0.0.1", path.join(tmp, "tls")).identity;
  listeners.push(await forwardFixedPort(DEFAULT_INTERNAL_REST_PORT, serving.port));
  listeners.push(await forwardFixedPort(DEFAULT_PUBLIC_PORT, gateway.port, gatewayTls));
  sshd = await startSshd({ extraConfig: docker.sshdConfig });
  await sshd.ready;
  writeModelVersion(path.join(tmp, "models"), "m", 1, { pb: "pb", index: "ix" });
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
  for (const l of listeners) await new Promise<void>((r) => l.close(() => r()));
  await serving?.close();
  await gateway?.close();
  if (tmp) removeDir(tmp);
});

maybe(
  `pulumi's deploy line deploys behind the gateway and proves it through the tunnel to TF Serving's internal port${SKIP}`,
  async () => {
    if (!sshd || !serving || !gateway)
      throw new Error("beforeAll did not start the sshd and the REST doubles");
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
        "odapi:tlsCert": gatewayTls.certPem,
        "odapi:tlsKey": gatewayTls.keyPem,
      },
      secretKeys: ["odapi:sshPrivateKey", "odapi:tlsCert", "odapi:tlsKey"],
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
    expect(run.outputs.apiUrl).toBe(`https://127.0.0.1:${DEFAULT_PUBLIC_PORT}`);
    expect(cmd.environment.ODAPI_TLS_KEY).toBe(gatewayTls.keyPem);
    expect(readFileSync(path.join(remoteDir, "config", "gateway-tls.crt"), "utf8")).toBe(gatewayTls.certPem);
    expect(readFileSync(path.join(remoteDir, "config", "gateway.conf"), "utf8")).toContain(API_KEY);

    // The proof detection reached TF Serving through the tunnel, without the key (TF Serving has none).
    expect(serving.predictCalls.get("m")).toBe(1);
    expect(serving.requests.filter((q) => q.apiKey !== undefined)).toEqual([]);
    // Then the public path: the gateway's port, with the stack's key.
    expect(gateway.requests).toEqual([{ method: "GET", path: "/v1/models/m", apiKey: API_KEY }]);
    // …over TLS, verified for the stack's host name (127.0.0.1) through the tunnel.
    expect(r.stderr).toMatch(/gateway: port 8501 \(HTTPS\) passes requests with the API key/);
  },
  150_000,
);
