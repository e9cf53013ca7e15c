// `odapi start --stack` and `odapi status --stack` for real against moto's EC2 (behind AWS_ENDPOINT_URL), with the
// stack outputs from a stand-in pulumi executable and the API from a local stand-in of TF Serving.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { hourlyPrice, PRICE_SOURCE } from "../../bootstrap/aws/prices";
import { DEPLOY_RECORD } from "../../bootstrap/deploy/plan";
import type { StartResult } from "../../cli/start";
import type { StackStatus } from "../../cli/status-stack";
import { ExitCode } from "../../common/errors";
import { knownHostsLine } from "../../infra/outputs";
import { type FakeServing, startFakeTfServing } from "../helpers/fake-tf-serving";
import { useMoto } from "../helpers/moto";
import { runOdapi } from "../helpers/run";
import { startSshdCliFixture } from "../helpers/sshd-cli";
import { makeTempDir, removeDir } from "../helpers/tmp";

jest.setTimeout(120_000);

const KEY = "k".repeat(40);
/** A well-formed ed25519 host key that is not the test sshd's. */
const OTHER_KEY = `ssh-ed25519 ${Buffer.concat([Buffer.from("\0\0\0\x0bssh-ed25519\0\0\0\x20", "latin1"), Buffer.alloc(32, 7)]).toString("base64")}`;

describe("odapi start / status --stack against moto", () => {
  const server = useMoto();
  let ec2: EC2Client;
  let api: FakeServing;
  let bin: string;
  let outputs: Record<string, Record<string, unknown>>;

  beforeAll(async () => {
    ec2 = new EC2Client({
      region: "us-east-1",
      endpoint: server.moto().endpoint,
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    });
    api = await startFakeTfServing({ models: ["ssd_mobilenet_v2", "efficientdet_d0"], apiKey: KEY });
    bin = makeTempDir("odapi-pulumi-");
    outputs = {};
  });
  afterAll(async () => {
    ec2.destroy();
    await api.close();
    removeDir(bin);
  });

  /** A g4dn.xlarge in moto, and a stand-in `pulumi` printing a stack's outputs for it (every stack in `outputs`). */
  async function stackWithInstance(stack: string, extra: Record<string, unknown> = {}) {
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: "ami-03cf127a",
        MinCount: 1,
        MaxCount: 1,
        InstanceType: "g4dn.xlarge",
      }),
    );
    const id = run.Instances?.[0]?.InstanceId as string;
    outputs[stack] = {
      apiUrl: api.url,
      models: ["ssd_mobilenet_v2", "efficientdet_d0"],
      apiKey: KEY,
      instanceId: id,
      region: "us-east-1",
      instanceType: "g4dn.xlarge",
      idleStopMinutes: 60,
      ...extra,
    };
    const cases = Object.entries(outputs)
      .map(
        ([s, o]) =>
          `  "stack output --json --show-secrets -s ${s}") printf '%s\\n' '${JSON.stringify(o)}' ;;`,
      )
      .join("\n");
    writeFileSync(
      path.join(bin, "pulumi"),
      `#!/bin/sh\ncase "$*" in\n${cases}\n  *) echo "error: no stack named '$6' found" >&2; exit 255 ;;\nesac\n`,
      { mode: 0o755 },
    );
    return id;
  }

  const state = async (id: string) =>
    (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]
      ?.State?.Name;
  const odapi = (args: string[]) =>
    runOdapi(args, { env: { ...server.moto().env, PATH: `${bin}:${process.env.PATH}` } });

  it("start: a stopped instance runs again, every model answers a detection, the deploy's summary is printed", async () => {
    const id = await stackWithInstance("gpu");
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    expect(await state(id)).toBe("stopped");
    const before = api.predictCalls.get("ssd_mobilenet_v2") ?? 0;

    const r = await odapi(["start", "--stack", "gpu"]);
    expect(r.stderr).toContain(`odapi: ${id}: stopped`);
    expect(r.code).toBe(0);
    expect(await state(id)).toBe("running");
    expect(api.predictCalls.get("ssd_mobilenet_v2")).toBe(before + 1);
    expect(r.stdout).toMatch(
      /^ssd_mobilenet_v2: AVAILABLE \(version 1\), 3 detections, top score 0\.91, \d+ ms$/m,
    );
    expect(r.stdout).toMatch(/^efficientdet_d0: AVAILABLE \(version 1\), 3 detections/m);
    expect(r.stdout).toContain(`started ${id} (stack gpu) in `);
    expect(r.stdout).toContain("g4dn.xlarge in us-east-1: $0.526/h on demand");
    expect(r.stdout).toContain("after 60 min without a model request");

    // Idempotent: a running instance is not started again; --json carries the same.
    const again = await odapi(["start", "--stack", "gpu", "--json"]);
    expect(again.code).toBe(0);
    const doc = JSON.parse(again.stdout) as StartResult;
    expect(doc).toMatchObject({
      instanceId: id,
      started: false,
      instanceType: "g4dn.xlarge",
      hourlyUsd: 0.526,
    });
    expect(doc.models.map((m) => m.model)).toEqual(["ssd_mobilenet_v2", "efficientdet_d0"]);
  });

  it("status --stack: running with uptime, price and cost since start; stopped after a stop; --json the same", async () => {
    const id = await stackWithInstance("gpu2");
    const r = await odapi(["status", "--stack", "gpu2", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as StackStatus;
    expect(s).toMatchObject({
      stack: "gpu2",
      instanceId: id,
      region: "us-east-1",
      instanceType: "g4dn.xlarge",
      state: "running",
      hourlyUsd: hourlyPrice("g4dn.xlarge", "us-east-1"),
      idleStopMinutes: 60,
      priceSource: { ...PRICE_SOURCE },
    });
    expect(s.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(s.costSinceLaunchUsd).toBeCloseTo(((s.uptimeSeconds as number) / 3600) * 0.526, 3);

    const text = await odapi(["status", "--stack", "gpu2"]);
    expect(text.stdout).toContain(`stack gpu2: ${id} (g4dn.xlarge, us-east-1) is running`);
    expect(text.stdout).toMatch(/^estimated cost since this start: \$\d+\.\d{3}/m);
    expect(text.stdout).toContain("powers off (stopped, disk and Elastic IP kept) after 60 min");

    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    const stopped = JSON.parse((await odapi(["status", "--stack", "gpu2", "--json"])).stdout) as StackStatus;
    expect(stopped.state).toBe("stopped");
    expect(stopped.uptimeSeconds).toBeUndefined();
    expect(stopped.costSinceLaunchUsd).toBeUndefined();
    const stoppedText = await odapi(["status", "--stack", "gpu2"]);
    expect(stoppedText.stdout).toContain("odapi start --stack gpu2");
  });

  it("status --stack reads the host's idle clock over SSH with the stack's key and pinned host key", async () => {
    const fx = await startSshdCliFixture({ tmpPrefix: "odapi-idle-status-" });
    try {
      const remoteDir = path.join(fx.tmp, "opt");
      const stateFile = path.join(fx.tmp, "idle-state");
      mkdirSync(path.join(remoteDir, "config"), { recursive: true });
      const record = {
        models: ["ssd"],
        host: "gpu",
        publicPort: 8501,
        internalRestPort: 18501,
        gateway: true,
      };
      writeFileSync(
        path.join(remoteDir, DEPLOY_RECORD),
        JSON.stringify({ ...record, idleStop: { minutes: 60, stateFile } }),
      );
      // As the idle script writes it: last request 25 min before its last check.
      writeFileSync(
        stateFile,
        "available_since=1000\nlast_activity=2000\nlast_count=3\nchecked_at=3500\nwindow_seconds=3600\nmetrics=up\n",
      );
      const ssh = {
        publicIp: "127.0.0.1",
        sshUser: fx.sshd.user,
        sshPrivateKey: fx.sshd.userKey,
        knownHosts: knownHostsLine("127.0.0.1", fx.sshd.port, fx.sshd.hostKey),
        remoteDir,
      };
      await stackWithInstance("idle", ssh);
      const r = await odapi(["status", "--stack", "idle"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("idle for 25 min, stops in 35 min without a request");
      const doc = JSON.parse((await odapi(["status", "--stack", "idle", "--json"])).stdout) as StackStatus;
      expect(doc.idle).toEqual({ kind: "idle", idleMinutes: 25, stopsInMinutes: 35 });

      // A deploy without the idle stop: said, not guessed.
      writeFileSync(path.join(remoteDir, DEPLOY_RECORD), JSON.stringify(record));
      const none = JSON.parse((await odapi(["status", "--stack", "idle", "--json"])).stdout) as StackStatus;
      expect(none.idle).toBeUndefined();
      expect(none.idleNote).toBe("idle clock not read: the last deploy installed no idle auto-stop");

      // Another host key at that address: refused, and status still reports the instance.
      await stackWithInstance("idle2", {
        ...ssh,
        knownHosts: knownHostsLine("127.0.0.1", fx.sshd.port, OTHER_KEY),
      });
      const wrong = JSON.parse((await odapi(["status", "--stack", "idle2", "--json"])).stdout) as StackStatus;
      expect(wrong.state).toBe("running");
      expect(wrong.idleNote).toMatch(/^idle clock not read over SSH: .*host key/i);
    } finally {
      await fx.stop();
    }
  });

  it("a terminated instance cannot be started: exit notFound with the fix, one JSON object with --json", async () => {
    const id = await stackWithInstance("gone");
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    const r = await odapi(["start", "--stack", "gone", "--json"]);
    expect(r.code).toBe(ExitCode.notFound);
    expect(r.stderr).toContain(`error: instance ${id} is terminated: it cannot be started`);
    expect(r.stderr).toContain("pulumi up");
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false });
  });

  it("an instance id EC2 does not know, a stack on your own host, no EC2 endpoint", async () => {
    await stackWithInstance("typo", { instanceId: "i-0123456789abcdef0" });
    const missing = await odapi(["status", "--stack", "typo"]);
    expect(missing.code).toBe(ExitCode.notFound);
    expect(missing.stderr).toContain("instance i-0123456789abcdef0 does not exist in us-east-1");

    await stackWithInstance("dev", { instanceId: "external:192.0.2.10" });
    const dev = await odapi(["start", "--stack", "dev"]);
    expect(dev.code).toBe(ExitCode.usage);
    expect(dev.stderr).toContain("stack dev has no EC2 instance (instanceId external:192.0.2.10)");

    const down = await runOdapi(["status", "--stack", "gpu2"], {
      env: {
        ...server.moto().env,
        AWS_ENDPOINT_URL: "http://127.0.0.1:9",
        AWS_MAX_ATTEMPTS: "1",
        PATH: `${bin}:${process.env.PATH}`,
      },
    });
    expect(down.code).toBe(ExitCode.unreachable);
    expect(down.stderr).toContain("error: cannot reach http://127.0.0.1:9 (ECONNREFUSED)");
  });
});
