// The replica sync agent, rendered and run for real: ShellCheck and systemd-analyze on what it renders, then the
// script with the pinned AWS CLI (PyPI) against moto, after `odapi publish` filled the bucket.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { AWS_CLI } from "../../scripts/harness/moto";
import { freePort } from "../../scripts/harness/sshd";
import { renderModelsConfig } from "../../serving";
import {
  renderSyncScript,
  renderSyncService,
  renderSyncTimer,
  SYNC_SCRIPT,
  SYNC_UNITS,
  SYNCED_MANIFEST,
  type SyncAgentOptions,
} from "../../serving/sync-agent";
import { savedModelFiles, writeModelTree } from "../helpers/model-tree";
import { useMoto } from "../helpers/moto";
import { runOdapi, runProcess } from "../helpers/run";
import { hashTree, tempDirPerTest } from "../helpers/tmp";

jest.setTimeout(180_000);

const opts = { bucket: "models-bucket", prefix: "odapi", remoteDir: "/opt/odapi" };

describe("rendered sync agent", () => {
  const dir = tempDirPerTest("odapi-sync-render-");

  it("the script passes ShellCheck", () => {
    const file = path.join(dir(), SYNC_SCRIPT);
    writeFileSync(file, renderSyncScript({ ...opts, region: "us-east-1" }));
    const r = spawnSync("shellcheck", ["--severity=style", file], { encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });

  it("the units pass systemd-analyze verify, run at every boot and on a timer", () => {
    const service = path.join(dir(), SYNC_UNITS.service);
    const timer = path.join(dir(), SYNC_UNITS.timer);
    writeFileSync(service, renderSyncService(opts));
    writeFileSync(timer, renderSyncTimer({ ...opts, intervalMinutes: 7 }));
    const r = spawnSync("systemd-analyze", ["verify", service, timer], { encoding: "utf8" });
    expect(r.stderr.split("\n").filter((l) => l.includes("odapi-sync"))).toEqual([]);
    expect(r.status).toBe(0);
    expect(readFileSync(service, "utf8")).toContain("WantedBy=multi-user.target");
    expect(readFileSync(service, "utf8")).toContain("ExecStart=/bin/bash /opt/odapi/sync-models.sh");
    expect(readFileSync(timer, "utf8")).toContain("OnUnitActiveSec=7min");
  });

  it("runs the pinned amazon/aws-cli image with host networking unless ODAPI_AWS_CLI is set", () => {
    const script = renderSyncScript(opts);
    expect(script).toMatch(
      /aws=\(docker run --rm --network host .* -v \/opt\/odapi\/models:\/opt\/odapi\/models amazon\/aws-cli:2\.\d+\.\d+\)/,
    );
    expect(script).toContain('read -ra aws <<<"$ODAPI_AWS_CLI"');
  });
});

describe("sync agent against moto", () => {
  const server = useMoto();
  const dir = tempDirPerTest("odapi-sync-");
  let n = 0;

  /** A bucket, a local models dir, a host dir, and the rendered agent script for them. */
  async function setup(agent: Partial<SyncAgentOptions> = {}) {
    const bucket = `sync-test-${++n}`;
    await server.s3().send(new CreateBucketCommand({ Bucket: bucket }));
    const models = path.join(dir(), "models");
    const host = path.join(dir(), "host");
    mkdirSync(host);
    const script = path.join(dir(), SYNC_SCRIPT);
    writeFileSync(script, renderSyncScript({ bucket, prefix: "odapi", remoteDir: host, ...agent }));
    const publish = async (...extra: string[]) => {
      const r = await runOdapi(["publish", "--bucket", bucket, "--models", models, "--json", ...extra], {
        env: { ...server.moto().env, ODAPI_CACHE_DIR: path.join(dir(), "cache") },
      });
      expect(r.stderr).not.toContain("error");
      return JSON.parse(r.stdout);
    };
    const sync = (env: Record<string, string> = {}) =>
      runProcess("bash", [script], {
        env: { ...server.moto().env, ODAPI_AWS_CLI: AWS_CLI, ODAPI_SYNC_MAX_DELAY: "1", ...env },
      });
    const served = () => {
      const tree = hashTree(path.join(host, "models"));
      for (const k of Object.keys(tree))
        if (k.endsWith(SYNCED_MANIFEST) || k.startsWith(".odapi-")) delete tree[k];
      return tree;
    };
    return { bucket, models, host, publish, sync, served };
  }

  it("publish then sync gives a byte-identical tree and models.config; a second sync changes nothing", async () => {
    const t = await setup();
    writeModelTree(t.models, [
      { model: "ssd", version: 1, files: savedModelFiles(3 * 1024 * 1024) },
      { model: "retina", version: 2, files: savedModelFiles(1000) },
    ]);
    await t.publish();
    const r = await t.sync();
    expect(r.stderr).not.toContain("odapi-error");
    expect(r.code).toBe(0);
    expect(t.served()).toEqual(hashTree(t.models));
    expect(readFileSync(path.join(t.host, "config", "models.config"), "utf8")).toBe(
      renderModelsConfig([{ name: "retina" }, { name: "ssd" }]),
    );
    const again = await t.sync();
    expect(again.code).toBe(0);
    expect(again.stdout + again.stderr).not.toContain("synced");
    expect(again.stdout).toContain("in sync with s3://");
  });

  it("serves the synced versions under the given version policy, rendered by the models.config renderer", async () => {
    const t = await setup({ versionPolicy: { latest: 2 } });
    writeModelTree(t.models, [
      { model: "ssd", version: 1, files: savedModelFiles(100) },
      { model: "ssd", version: 2, files: savedModelFiles(100) },
      { model: "retina.v2", version: 5, files: savedModelFiles(100) },
    ]);
    await t.publish();
    expect((await t.sync()).code).toBe(0);
    expect(readFileSync(path.join(t.host, "config", "models.config"), "utf8")).toBe(
      renderModelsConfig([
        { name: "retina.v2", versionPolicy: { latest: 2 } },
        { name: "ssd", versionPolicy: { latest: 2 } },
      ]),
    );
    expect(t.served()).toEqual(hashTree(t.models));
  });

  it("ignores objects without a manifest (a publish in progress) and takes the version once its manifest exists", async () => {
    const t = await setup();
    writeModelTree(t.models, [{ model: "ssd", version: 1, files: savedModelFiles(100) }]);
    await t.publish();
    // Version 2's files arrive, its manifest not yet: replicas must not see it.
    await server
      .s3()
      .send(
        new PutObjectCommand({ Bucket: t.bucket, Key: "odapi/models/ssd/2/saved_model.pb", Body: "partial" }),
      );
    expect((await t.sync()).code).toBe(0);
    expect(existsSync(path.join(t.host, "models", "ssd", "2"))).toBe(false);
    writeModelTree(t.models, [{ model: "ssd", version: 2, files: savedModelFiles(100) }]);
    await t.publish();
    expect((await t.sync()).code).toBe(0);
    expect(t.served()).toEqual(hashTree(t.models));
  });

  it("refuses a corrupt object: the new version is not installed, the previous one keeps serving, exit 1", async () => {
    const t = await setup();
    writeModelTree(t.models, [{ model: "ssd", version: 1, files: savedModelFiles(100) }]);
    await t.publish();
    expect((await t.sync()).code).toBe(0);
    const before = t.served();
    writeModelTree(t.models, [{ model: "ssd", version: 2, files: savedModelFiles(100) }]);
    await t.publish();
    await server.s3().send(
      new PutObjectCommand({
        Bucket: t.bucket,
        Key: "odapi/models/ssd/2/saved_model.pb",
        Body: "tampered",
      }),
    );
    const r = await t.sync();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused ssd version 2: saved_model\.pb (is corrupt|has the wrong size)/);
    expect(r.stderr).toContain("odapi-error: 1 published version(s) could not be synced");
    expect(t.served()).toEqual(before);
    expect(readFileSync(path.join(t.host, "models", "ssd", "1", SYNCED_MANIFEST), "utf8")).toContain(
      "# odapi-manifest 1 ssd 1",
    );
  });

  it("S3 down: bounded retries with backoff said in the output, nothing removed, exit 1", async () => {
    const t = await setup();
    writeModelTree(t.models, [{ model: "ssd", version: 1, files: savedModelFiles(100) }]);
    await t.publish();
    expect((await t.sync()).code).toBe(0);
    const before = t.served();
    const r = await t.sync({
      AWS_ENDPOINT_URL: `http://127.0.0.1:${await freePort()}`,
      ODAPI_SYNC_ATTEMPTS: "3",
      // The CLI's own retries would multiply the wait; the agent's bounded loop is what is under test.
      AWS_MAX_ATTEMPTS: "1",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("attempt 1 of 3");
    expect(r.stderr).toContain("attempt 2 of 3");
    expect(r.stderr).not.toContain("attempt 3 of 3");
    expect(r.stderr).toContain("odapi-error: cannot read s3://");
    expect(r.stderr).toContain("the models on disk keep serving");
    expect(t.served()).toEqual(before);
  });

  it("removes a version only when publish --prune unpublished it", async () => {
    const t = await setup();
    writeModelTree(t.models, [
      { model: "ssd", version: 1, files: savedModelFiles(100) },
      { model: "ssd", version: 2, files: savedModelFiles(100) },
    ]);
    await t.publish();
    expect((await t.sync()).code).toBe(0);
    rmSync(path.join(t.models, "ssd", "1"), { recursive: true });
    await t.publish();
    expect((await t.sync()).code).toBe(0);
    expect(existsSync(path.join(t.host, "models", "ssd", "1"))).toBe(true);
    expect((await t.publish("--prune")).retired).toEqual(["ssd/1"]);
    const r = await t.sync();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("removed ssd version 1 (unpublished)");
    expect(t.served()).toEqual(hashTree(t.models));
  });
});
