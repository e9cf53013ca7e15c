// The opt-in AWS end-to-end script: its pure decisions, and a real run that must skip (exit 0, saying why)
// on a machine without the pulumi CLI or AWS credentials.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  benchArgv,
  e2eConfig,
  ephemeralStackName,
  parseE2eBase,
  servesOnly,
  skipReason,
  tallyBench,
  testClientArgv,
} from "../../scripts/e2e-plan";
import { tempDirPerTest } from "../helpers/tmp";

const ROOT = path.resolve(__dirname, "../..");

describe("skipReason", () => {
  test("no pulumi CLI → skip, naming the CLI", () => {
    expect(skipReason({ env: { AWS_PROFILE: "x" }, hasPulumiCli: false, hasAwsFiles: true })).toMatch(
      /pulumi CLI/,
    );
  });
  test("no credentials anywhere → skip, naming where they come from", () => {
    expect(skipReason({ env: {}, hasPulumiCli: true, hasAwsFiles: false })).toMatch(
      /no AWS credentials.*AWS Details/,
    );
    expect(skipReason({ env: { AWS_ACCESS_KEY_ID: "A" }, hasPulumiCli: true, hasAwsFiles: false })).toMatch(
      /no AWS/,
    );
  });
  test("CLI plus any credential source → run", () => {
    expect(
      skipReason({
        env: { AWS_ACCESS_KEY_ID: "A", AWS_SECRET_ACCESS_KEY: "B" },
        hasPulumiCli: true,
        hasAwsFiles: false,
      }),
    ).toBeUndefined();
    expect(
      skipReason({ env: { AWS_PROFILE: "lab" }, hasPulumiCli: true, hasAwsFiles: false }),
    ).toBeUndefined();
    expect(skipReason({ env: {}, hasPulumiCli: true, hasAwsFiles: true })).toBeUndefined();
  });
});

test("ephemeral stack names are unique-looking and valid stack names", () => {
  const name = ephemeralStackName("cpu", 1_700_000_000_000, 0.5);
  expect(name).toBe(`e2e-cpu-${(1_700_000_000_000).toString(36)}-${Math.floor(0.5 * 36 ** 4).toString(36)}`);
  expect(name).toMatch(/^[A-Za-z0-9_.-]+$/);
  expect(ephemeralStackName("cpu", 1, 0)).toBe("e2e-cpu-1-0000");
});

describe("e2eConfig", () => {
  const labDir = tempDirPerTest("odapi-e2e-lab-");
  /** A base stack that logs in with the lab's own key pair (the cpu stack with keyName vockey set). */
  const labStack = () => {
    const dir = labDir();
    writeFileSync(
      path.join(dir, "Pulumi.lab.yaml"),
      "config:\n  aws:region: us-east-1\n  odapi:learnerLab: true\n  odapi:instanceType: t3.large\n  odapi:keyName: vockey\n",
    );
    return dir;
  };

  test("copies the real cpu stack file, which needs no key (it generates one)", () => {
    expect(e2eConfig(ROOT, "cpu")).toEqual({
      "aws:region": { value: "us-east-1", secret: false },
      "odapi:learnerLab": { value: "true", secret: false },
      "odapi:instanceType": { value: "t3.large", secret: false },
    });
  });
  test("a base stack with the lab key pair gets the lab key added as a secret", () => {
    expect(e2eConfig(labStack(), "lab", "PEM")).toEqual({
      "aws:region": { value: "us-east-1", secret: false },
      "odapi:learnerLab": { value: "true", secret: false },
      "odapi:instanceType": { value: "t3.large", secret: false },
      "odapi:keyName": { value: "vockey", secret: false },
      "odapi:sshPrivateKey": { value: "PEM", secret: true },
    });
  });
  test("a base stack with the lab key pair but without the lab key is refused up front", () => {
    expect(() => e2eConfig(labStack(), "lab")).toThrow(/ODAPI_E2E_SSH_KEY_FILE/);
  });
  test("the gpu stack needs no key (it generates one)", () => {
    expect(e2eConfig(ROOT, "gpu")["odapi:gpu"]).toEqual({ value: "true", secret: false });
  });
});

test("the test client gets every model and --json; the API key is not on the command line", () => {
  expect(testClientArgv("http://203.0.113.10:8501", ["a", "b"])).toEqual([
    "npx",
    "zx",
    "bootstrap/test-endpoint.mjs",
    "--url",
    "http://203.0.113.10:8501",
    "--model",
    "a",
    "--model",
    "b",
    "--json",
  ]);
});

describe("the scale run's decisions", () => {
  test("npm run e2e:aws -- --stack scale (or a bare name) picks the base; an unknown one is refused", () => {
    expect(parseE2eBase([])).toBe("cpu");
    expect(parseE2eBase(["--stack", "scale"])).toBe("scale");
    expect(parseE2eBase(["gpu"])).toBe("gpu");
    expect(parseE2eBase(["--stack", "big"])).toBeUndefined();
  });

  test("copies the real scale stack file, which needs no key (the deployer never logs in)", () => {
    expect(e2eConfig(ROOT, "scale")).toMatchObject({
      "odapi:target": { value: "scale", secret: false },
      "odapi:instanceProfile": { value: "LabInstanceProfile", secret: false },
      "odapi:models": { value: JSON.stringify(["ssd_mobilenet_v2"]), secret: false },
    });
  });

  test("the bench runs one model with JSON and no warmup through the load balancer", () => {
    expect(benchArgv("https://lb.example", "ssd", 200, 16).join(" ")).toBe(
      "node bin/odapi.cjs bench --url https://lb.example --model ssd --requests 200 --concurrency 16 --warmup 0 --timeout 120000 --json",
    );
  });

  test("a bench report is tallied; no report counts every request as failed", () => {
    const report = { models: [{ bench: { requests: 200, ok: 198, errors: 2, requestsPerSecond: 12.5 } }] };
    expect(tallyBench(JSON.stringify(report), 200)).toEqual({
      requests: 200,
      ok: 198,
      errors: 2,
      requestsPerSecond: 12.5,
    });
    expect(tallyBench("error: cannot reach", 50)).toEqual({
      requests: 50,
      ok: 0,
      errors: 50,
      requestsPerSecond: 0,
    });
  });

  test("the rollout is complete on a replica only when version 2 alone is AVAILABLE and detects", () => {
    const report = (ok: boolean, versions: string[]) =>
      JSON.stringify({ ok, models: [{ name: "m", versions }] });
    expect(servesOnly(report(true, ["2"]), "2")).toBe(true);
    expect(servesOnly(report(true, ["1", "2"]), "2")).toBe(false);
    expect(servesOnly(report(true, ["1"]), "2")).toBe(false);
    expect(servesOnly(report(false, ["2"]), "2")).toBe(false);
    expect(servesOnly("error: cannot reach", "2")).toBe(false);
  });
});

describe("the script itself (npm run e2e:aws) skips with the reason and exit 0", () => {
  const home = tempDirPerTest("odapi-e2e-home-");

  function runScript(pathDirs: string[], args: string[] = []) {
    const before = readdirSync(ROOT).filter((f) => f.startsWith("Pulumi."));
    // HOME without ~/.aws, no AWS_* variables, PATH as given
    const env = { PATH: [...pathDirs, path.dirname(process.execPath)].join(":"), HOME: home() };
    const r = spawnSync(
      process.execPath,
      [path.join(ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/e2e-aws.ts", ...args],
      {
        cwd: ROOT,
        env,
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    expect(readdirSync(ROOT).filter((f) => f.startsWith("Pulumi."))).toEqual(before);
    return r;
  }

  test("without the pulumi CLI", () => {
    const r = runScript([]);
    expect(r.stderr).toContain("e2e-aws: skipped: the pulumi CLI is not installed");
    expect(r.status).toBe(0);
  });

  test("with a pulumi CLI but no AWS credentials", () => {
    const bin = path.join(home(), "bin");
    mkdirSync(bin);
    writeFileSync(path.join(bin, "pulumi"), "#!/bin/sh\necho v3.200.0\n", { mode: 0o755 });
    const r = runScript([bin]);
    expect(r.stderr).toContain("e2e-aws: skipped: no AWS credentials");
    expect(r.status).toBe(0);
  });

  test("--stack scale without the pulumi CLI", () => {
    const r = runScript([], ["--stack", "scale"]);
    expect(r.stderr).toContain("e2e-aws: skipped: the pulumi CLI is not installed");
    expect(r.status).toBe(0);
  });

  test("an unknown base stack is refused with exit 2", () => {
    const r = runScript([], ["--stack", "huge"]);
    expect(r.stderr).toContain("e2e-aws: unknown base stack in --stack huge: use cpu, gpu, scale");
    expect(r.status).toBe(2);
  });
});
