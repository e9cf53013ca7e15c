// A scale replica's user data, rendered and run for real: ShellCheck and systemd-analyze on it, then the script
// itself with bash (a recording systemctl stand-in), then the sync agent it installed against moto after
// `odapi publish`.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { AWS_CLI } from "../../scripts/harness/moto";
import { renderModelsConfig } from "../../serving";
import { FILES, SCRIPTS } from "../../serving/constants";
import {
  REPLICA_UNIT,
  type ReplicaOptions,
  renderReplicaService,
  renderReplicaUserData,
  replicaFiles,
} from "../../serving/replica-user-data";
import { SYNC_SCRIPT, SYNC_UNITS } from "../../serving/sync-agent";
import { savedModelFiles, writeModelTree } from "../helpers/model-tree";
import { useMoto } from "../helpers/moto";
import { runOdapi, runProcess } from "../helpers/run";
import { hashTree, tempDirPerTest } from "../helpers/tmp";

jest.setTimeout(180_000);

const API_KEY = "K".repeat(40);
const MODELS = [{ name: "ssd" }, { name: "retina" }];

function options(remoteDir: string, unitDir?: string, bucket = "models-bucket"): ReplicaOptions {
  return {
    serving: { host: "cpu", remoteDir, models: MODELS, apiKey: API_KEY },
    sync: { bucket, prefix: "odapi", region: "us-east-1" },
    unitDir,
  };
}

describe("rendered replica user data", () => {
  const dir = tempDirPerTest("odapi-replica-render-");

  it("passes ShellCheck", () => {
    const file = path.join(dir(), "user-data.sh");
    writeFileSync(file, renderReplicaUserData(options("/opt/odapi")));
    const r = spawnSync("shellcheck", ["--severity=style", file], { encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });

  it("fits EC2's 16 KB user data limit once gzipped (cloud-init unpacks gzip)", () => {
    const text = renderReplicaUserData(options("/opt/odapi"));
    expect(text.length).toBeGreaterThan(16 * 1024);
    expect(gzipSync(text).length).toBeLessThan(16 * 1024);
  });

  it("the replica unit passes systemd-analyze verify and runs prepare, sync, start in that order at every boot", () => {
    const unit = path.join(dir(), REPLICA_UNIT);
    writeFileSync(unit, renderReplicaService("/opt/odapi"));
    const r = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    expect(r.stderr.split("\n").filter((l) => l.includes(REPLICA_UNIT))).toEqual([]);
    expect(r.status).toBe(0);
    const text = readFileSync(unit, "utf8");
    expect(text.match(/^ExecStart=.*$/gm)).toEqual([
      `ExecStart=/bin/bash /opt/odapi/${SCRIPTS.prepareHost}`,
      `ExecStart=/bin/bash /opt/odapi/${SYNC_SCRIPT}`,
      `ExecStart=/bin/bash /opt/odapi/${SCRIPTS.start}`,
    ]);
    expect(text).toContain("WantedBy=multi-user.target");
    expect(text).toContain("Restart=on-failure");
  });

  it("refuses a file that holds the heredoc delimiter as a line", () => {
    const opts = options("/opt/odapi");
    expect(() =>
      renderReplicaUserData({ ...opts, sync: { ...opts.sync, bucket: "x\nODAPI_FILE_END\ny" } }),
    ).toThrow(/contains the line ODAPI_FILE_END/);
  });
});

describe("replica user data run for real", () => {
  const server = useMoto();
  const dir = tempDirPerTest("odapi-replica-");

  /** Runs the user data with bash; systemctl is a stand-in that records its arguments. */
  async function boot(bucket: string) {
    const host = path.join(dir(), "host");
    const units = path.join(dir(), "units");
    const bin = path.join(dir(), "bin");
    mkdirSync(bin);
    const calls = path.join(dir(), "systemctl.log");
    writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\necho "$*" >>${calls}\n`, { mode: 0o755 });
    const opts = options(host, units, bucket);
    const script = path.join(dir(), "user-data.sh");
    writeFileSync(script, renderReplicaUserData(opts));
    const r = await runProcess("bash", [script], { env: { PATH: `${bin}:${process.env.PATH}` } });
    return { r, host, units, opts, calls: () => readFileSync(calls, "utf8").trim().split("\n") };
  }

  it("writes every file with its content and mode, then enables and starts the units", async () => {
    const { r, opts, calls } = await boot("unused-bucket");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const files = replicaFiles(opts);
    expect(files.map((f) => path.basename(f.path))).toEqual(
      expect.arrayContaining([SYNC_SCRIPT, SCRIPTS.start, SYNC_UNITS.timer, REPLICA_UNIT, "gateway.conf"]),
    );
    for (const f of files) {
      expect([f.path, readFileSync(f.path, "utf8")]).toEqual([f.path, f.content]);
      expect([f.path, statSync(f.path).mode & 0o777]).toEqual([f.path, f.mode]);
    }
    const gateway = files.find((f) => f.path.endsWith(FILES.gatewayConfig));
    expect(gateway?.mode).toBe(0o600);
    expect(gateway?.content).toContain(API_KEY);
    expect(calls()).toEqual([
      "daemon-reload",
      `enable ${SYNC_UNITS.timer} ${REPLICA_UNIT}`,
      `start --no-block ${REPLICA_UNIT} ${SYNC_UNITS.timer}`,
    ]);
  });

  it("the sync agent it installed brings the published models and renders models.config for them", async () => {
    const bucket = "replica-test";
    await server.s3().send(new CreateBucketCommand({ Bucket: bucket }));
    const models = path.join(dir(), "models");
    writeModelTree(models, [
      { model: "ssd", version: 1, files: savedModelFiles(4096) },
      { model: "retina", version: 3, files: savedModelFiles(1000) },
    ]);
    const published = await runOdapi(["publish", "--bucket", bucket, "--models", models, "--json"], {
      env: { ...server.moto().env, ODAPI_CACHE_DIR: path.join(dir(), "cache") },
    });
    expect(published.code).toBe(0);
    const { r, host } = await boot(bucket);
    expect(r.code).toBe(0);
    const sync = await runProcess("bash", [path.join(host, SYNC_SCRIPT)], {
      env: { ...server.moto().env, ODAPI_AWS_CLI: AWS_CLI, ODAPI_SYNC_MAX_DELAY: "1" },
    });
    expect(sync.stderr).not.toContain("odapi-error");
    expect(sync.code).toBe(0);
    const served = hashTree(path.join(host, "models"));
    for (const k of Object.keys(served))
      if (k.includes("/.odapi-") || k.startsWith(".odapi-")) delete served[k];
    expect(served).toEqual(hashTree(models));
    expect(readFileSync(path.join(host, FILES.modelsConfig), "utf8")).toBe(
      renderModelsConfig([{ name: "retina" }, { name: "ssd" }]),
    );
  });
});
