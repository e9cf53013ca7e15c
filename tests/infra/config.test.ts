// infra/config/: parsing Pulumi's raw strings and every validation rule, each with its key, value and fix.
import {
  configKeys,
  configProblems,
  loadStackConfig,
  parseStackConfig,
  type StackConfig,
} from "../../infra/config";
import { thrown } from "../helpers/errors";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----";

function raw(values: Record<string, string>) {
  return (key: string) => values[key];
}

/** A valid Learner Lab config with the lab's own key pair (the option besides the generated key). */
const LAB = {
  "aws:region": "us-east-1",
  "odapi:learnerLab": "true",
  "odapi:instanceType": "t3.large",
  "odapi:keyName": "vockey",
  "odapi:sshPrivateKey": KEY,
};
const HOST = { "odapi:target": "host", "odapi:sshHost": "192.0.2.10", "odapi:sshPrivateKey": KEY };
/** The scale target on a normal account (the Learner Lab guards are tested over the real stack file, scale-stack.test.ts). */
const SCALE = { "aws:region": "us-east-1", "odapi:target": "scale" };

function problemsOf(values: Record<string, string>) {
  return configProblems(parseStackConfig(raw(values)));
}

describe("parseStackConfig", () => {
  test("every key falls back to its declared default", () => {
    const cfg = parseStackConfig(raw({ "aws:region": "us-east-1" }));
    expect(cfg).toEqual<StackConfig>({
      target: "aws",
      learnerLab: false,
      gpu: false,
      instanceType: "t3.large",
      amiId: undefined,
      availabilityZone: undefined,
      volumeSizeGb: undefined,
      keyName: undefined,
      hasSshPrivateKey: false,
      sshUser: "ubuntu",
      sshHost: undefined,
      sshPort: 22,
      hostKey: undefined,
      allowedCidrs: [],
      apiCidrs: [],
      requireApiKey: true,
      models: ["ssd_mobilenet_v2", "retinanet_resnet50_v1_fpn_640x640"],
      localModelsDir: undefined,
      modelVersion: 1,
      pruneOldVersions: false,
      remoteDir: "/opt/odapi",
      instanceProfile: undefined,
      sshWaitMinutes: 15,
      domain: undefined,
      hasTlsCert: false,
      hasTlsKey: false,
      idleStopMinutes: 0,
      minReplicas: 2,
      maxReplicas: 4,
      targetRequestsPerReplica: 280,
      warmPool: false,
      scaleToZeroCron: undefined,
      scaleUpCron: undefined,
      acmCertificateArn: undefined,
      httpListener: false,
      region: "us-east-1",
    });
  });

  test("reads Pulumi's string encodings: booleans, integers, JSON arrays", () => {
    const cfg = parseStackConfig(
      raw({
        "odapi:gpu": "true",
        "odapi:volumeSizeGb": "120",
        "odapi:models": '["efficientdet_d0"]',
        "odapi:allowedCidrs": '["10.0.0.0/8"]',
      }),
    );
    expect(cfg.gpu).toBe(true);
    expect(cfg.volumeSizeGb).toBe(120);
    expect(cfg.models).toEqual(["efficientdet_d0"]);
    expect(cfg.allowedCidrs).toEqual(["10.0.0.0/8"]);
  });

  test("the region falls back to AWS_REGION / AWS_DEFAULT_REGION", () => {
    expect(parseStackConfig(raw({}), { AWS_REGION: "us-west-2" }).region).toBe("us-west-2");
    expect(parseStackConfig(raw({}), { AWS_DEFAULT_REGION: "eu-west-1" }).region).toBe("eu-west-1");
  });

  test.each([
    ["odapi:gpu", "yes", /odapi:gpu = "yes": must be true or false/],
    ["odapi:sshPort", "twenty-two", /odapi:sshPort = "twenty-two": must be a whole number/],
    ["odapi:models", "ssd_mobilenet_v2", /odapi:models = "ssd_mobilenet_v2": must be a list of strings/],
    ["odapi:target", "gcp", /odapi:target = "gcp": must be 'aws', 'host' or 'scale'/],
  ])("a %s of the wrong type is an error naming the key and value", (key, value, message) => {
    const err = thrown(() => parseStackConfig(raw({ [key]: value })));
    expect(err.message).toMatch(message);
    expect(err.exitCode).toBe(13);
  });
});

describe("valid configs pass", () => {
  test("the Learner Lab cpu config with the lab's key pair", () => {
    expect(problemsOf(LAB)).toEqual([]);
  });
  test("the Learner Lab cpu config as the cpu stack sets it: no key pair, no private key (one is generated)", () => {
    expect(
      problemsOf({ "aws:region": "us-east-1", "odapi:learnerLab": "true", "odapi:instanceType": "t3.large" }),
    ).toEqual([]);
  });
  test("a gpu config in a normal account", () => {
    expect(
      problemsOf({ "aws:region": "eu-west-1", "odapi:gpu": "true", "odapi:instanceType": "g4dn.xlarge" }),
    ).toEqual([]);
  });
  test("an own-host config", () => {
    expect(problemsOf(HOST)).toEqual([]);
  });
  test("a domain and an own certificate with its key", () => {
    expect(
      problemsOf({
        ...LAB,
        "odapi:domain": "api.example.org",
        "odapi:tlsCert": "PEM",
        "odapi:tlsKey": "PEM",
      }),
    ).toEqual([]);
  });
  test("the world may reach the API (never SSH) when the API key gateway is on", () => {
    expect(problemsOf({ ...LAB, "odapi:apiCidrs": '["0.0.0.0/0", "::/0"]' })).toEqual([]);
  });
});

/** Each rule: the config that breaks it, the key reported and the message. */
const RULES: [string, Record<string, string>, string, RegExp][] = [
  // HTTPS
  ["domain: an IP", { ...LAB, "odapi:domain": "203.0.113.7" }, "odapi:domain", /is not a DNS name/],
  ["domain: not a name", { ...LAB, "odapi:domain": "api example.org" }, "odapi:domain", /is not a DNS name/],
  [
    "tlsCert without tlsKey",
    { ...LAB, "odapi:tlsCert": "PEM" },
    "odapi:tlsKey",
    /is needed with odapi:tlsCert/,
  ],
  [
    "tlsKey without tlsCert",
    { ...LAB, "odapi:tlsKey": "PEM" },
    "odapi:tlsKey",
    /is needed with odapi:tlsCert/,
  ],
  [
    "own certificate without the gateway",
    { ...LAB, "odapi:tlsCert": "PEM", "odapi:tlsKey": "PEM", "odapi:requireApiKey": "false" },
    "odapi:tlsCert",
    /served by the API-key gateway/,
  ],
  // Learner Lab
  [
    "Learner Lab: GPU",
    { ...LAB, "odapi:gpu": "true", "odapi:instanceType": "g4dn.xlarge" },
    "odapi:gpu",
    /Learner Lab has no GPU/,
  ],
  [
    "Learner Lab: GPU instance type",
    { ...LAB, "odapi:instanceType": "g4dn.xlarge" },
    "odapi:instanceType",
    /Learner Lab does not allow GPU instance types/,
  ],
  [
    "Learner Lab: xlarge",
    { ...LAB, "odapi:instanceType": "t3.xlarge" },
    "odapi:instanceType",
    /sizes nano, micro, small, medium and large only/,
  ],
  [
    "Learner Lab: 2xlarge",
    { ...LAB, "odapi:instanceType": "m5.2xlarge" },
    "odapi:instanceType",
    /sizes nano, micro, small, medium and large only/,
  ],
  ["Learner Lab: metal", { ...LAB, "odapi:instanceType": "m5.metal" }, "odapi:instanceType", /sizes nano/],
  [
    "Learner Lab: region",
    { ...LAB, "aws:region": "eu-central-1" },
    "aws:region",
    /only us-east-1 and us-west-2/,
  ],
  ["Learner Lab: volume", { ...LAB, "odapi:volumeSizeGb": "101" }, "odapi:volumeSizeGb", /up to 100 GB/],
  [
    "missing private key for a key pair",
    { ...LAB, "odapi:sshPrivateKey": "" },
    "odapi:sshPrivateKey",
    /is required with odapi:keyName \(vockey\)/,
  ],
  ["missing region", { "odapi:instanceType": "t3.large" }, "aws:region", /is required for target 'aws'/],
  [
    "private key without a key pair name",
    { "aws:region": "us-east-1", "odapi:sshPrivateKey": KEY },
    "odapi:keyName",
    /name the EC2 key pair/,
  ],
  // any AWS account
  [
    "not an instance type",
    { ...LAB, "odapi:instanceType": "large" },
    "odapi:instanceType",
    /is not an EC2 instance type/,
  ],
  [
    "ARM instance",
    { ...LAB, "odapi:instanceType": "t4g.large" },
    "odapi:instanceType",
    /ARM \(Graviton\).*x86_64 only/,
  ],
  [
    "gpu without a GPU instance",
    { "aws:region": "us-east-1", "odapi:gpu": "true" },
    "odapi:instanceType",
    /has no NVIDIA GPU but odapi:gpu is true/,
  ],
  [
    "GPU instance without gpu",
    { "aws:region": "us-east-1", "odapi:instanceType": "g5.xlarge" },
    "odapi:gpu",
    /is a GPU instance/,
  ],
  ["bad AMI id", { ...LAB, "odapi:amiId": "ubuntu" }, "odapi:amiId", /is not an AMI id/],
  [
    "bad availability zone",
    { ...LAB, "odapi:availabilityZone": "east" },
    "odapi:availabilityZone",
    /is not an availability zone/,
  ],
  ["volume too small", { ...LAB, "odapi:volumeSizeGb": "4" }, "odapi:volumeSizeGb", /must be 8…16384 GB/],
  [
    "host keys on an AWS target",
    { ...LAB, "odapi:sshHost": "192.0.2.1" },
    "odapi:sshHost",
    /applies only to target 'host'/,
  ],
  // every target
  [
    "SSH open to the world (IPv4)",
    { ...LAB, "odapi:allowedCidrs": '["0.0.0.0/0"]' },
    "odapi:allowedCidrs",
    /opens SSH \(port 22\) to the whole internet/,
  ],
  [
    "SSH open to the world (IPv6)",
    { ...LAB, "odapi:allowedCidrs": '["::/0"]' },
    "odapi:allowedCidrs",
    /opens SSH \(port 22\) to the whole internet/,
  ],
  [
    "not a CIDR",
    { ...LAB, "odapi:allowedCidrs": '["10.0.0.1"]' },
    "odapi:allowedCidrs",
    /is not a CIDR block/,
  ],
  [
    "API open to the world without a key",
    { ...LAB, "odapi:requireApiKey": "false", "odapi:apiCidrs": '["0.0.0.0/0"]' },
    "odapi:apiCidrs",
    /without an API key/,
  ],
  [
    "unknown catalog model",
    { ...LAB, "odapi:models": '["yolov8"]' },
    "odapi:models",
    /is not a catalog model/,
  ],
  [
    "model listed twice",
    { ...LAB, "odapi:models": '["efficientdet_d0","efficientdet_d0"]' },
    "odapi:models",
    /lists a model twice/,
  ],
  ["nothing to serve", { ...LAB, "odapi:models": "[]" }, "odapi:models", /no model to serve/],
  ["model version 0", { ...LAB, "odapi:modelVersion": "0" }, "odapi:modelVersion", /must be ≥ 1/],
  [
    "relative remote dir",
    { ...LAB, "odapi:remoteDir": "opt/odapi" },
    "odapi:remoteDir",
    /must be an absolute path/,
  ],
  ["remote dir /", { ...LAB, "odapi:remoteDir": "/" }, "odapi:remoteDir", /must be an absolute path/],
  ["remote dir with ..", { ...LAB, "odapi:remoteDir": "/opt/../etc" }, "odapi:remoteDir", /no '\.\.'/],
  ["bad ssh user", { ...LAB, "odapi:sshUser": "Root User" }, "odapi:sshUser", /is not a valid login name/],
  ["ssh wait out of range", { ...LAB, "odapi:sshWaitMinutes": "0" }, "odapi:sshWaitMinutes", /must be 1…120/],
  [
    "idle stop below the range",
    { ...LAB, "odapi:idleStopMinutes": "2" },
    "odapi:idleStopMinutes",
    /must be 0 \(off\) or 5…10080/,
  ],
  [
    "idle stop negative",
    { ...LAB, "odapi:idleStopMinutes": "-60" },
    "odapi:idleStopMinutes",
    /must be 0 \(off\) or 5…10080/,
  ],
  [
    "idle stop on your own host",
    { ...HOST, "odapi:idleStopMinutes": "60" },
    "odapi:idleStopMinutes",
    /applies only to target .aws./,
  ],
  ["bad host key", { ...HOST, "odapi:hostKey": "AAAA" }, "odapi:hostKey", /is not an SSH public host key/],
  // own host
  [
    "host target without host",
    { ...HOST, "odapi:sshHost": "" },
    "odapi:sshHost",
    /is required for target 'host'/,
  ],
  [
    "host target with a bad host",
    { ...HOST, "odapi:sshHost": "bad host!" },
    "odapi:sshHost",
    /is not a host name or IP address/,
  ],
  [
    "host target without key",
    { ...HOST, "odapi:sshPrivateKey": "" },
    "odapi:sshPrivateKey",
    /is required for target 'host'/,
  ],
  ["host target bad port", { ...HOST, "odapi:sshPort": "70000" }, "odapi:sshPort", /is not a TCP port/],
  [
    "AWS keys on a host target",
    { ...HOST, "odapi:keyName": "vockey" },
    "odapi:keyName",
    /applies only to target 'aws'/,
  ],
  [
    "Learner Lab on a host target",
    { ...HOST, "odapi:learnerLab": "true" },
    "odapi:learnerLab",
    /applies only to target 'aws'/,
  ],
];

/** The scale target's own rules (normal account). */
const SCALE_RULES: [string, Record<string, string>, string, RegExp][] = [
  [
    "scale: idle stop is the one-instance stacks'",
    { ...SCALE, "odapi:idleStopMinutes": "60" },
    "odapi:idleStopMinutes",
    /applies only to the one-instance stacks/,
  ],
  [
    "scale: own TLS certificate goes to ACM",
    { ...SCALE, "odapi:tlsCert": "PEM" },
    "odapi:tlsCert",
    /HTTPS ends at the load balancer/,
  ],
  ["scale: minReplicas 0", { ...SCALE, "odapi:minReplicas": "0" }, "odapi:minReplicas", /must be ≥ 1/],
  [
    "scale: maxReplicas below minReplicas",
    { ...SCALE, "odapi:minReplicas": "3", "odapi:maxReplicas": "2" },
    "odapi:maxReplicas",
    /must be ≥ odapi:minReplicas \(3\)/,
  ],
  [
    "scale: targetRequestsPerReplica 0",
    { ...SCALE, "odapi:targetRequestsPerReplica": "0" },
    "odapi:targetRequestsPerReplica",
    /must be ≥ 1 request per minute/,
  ],
  [
    "scale: no gateway",
    { ...SCALE, "odapi:requireApiKey": "false" },
    "odapi:requireApiKey",
    /health check \(\/healthz\) is served by the API-key gateway/,
  ],
  [
    "scale: an availability zone",
    { ...SCALE, "odapi:availabilityZone": "us-east-1a" },
    "odapi:availabilityZone",
    /does not apply to 'scale'/,
  ],
  [
    "scale: a bad cron",
    { ...SCALE, "odapi:scaleToZeroCron": "at eight", "odapi:scaleUpCron": "0 7 * * *" },
    "odapi:scaleToZeroCron",
    /is not a five-field cron expression/,
  ],
  [
    "scale: one cron without the other",
    { ...SCALE, "odapi:scaleToZeroCron": "0 20 * * *" },
    "odapi:scaleUpCron",
    /go together/,
  ],
  [
    "scale: not an ACM ARN",
    { ...SCALE, "odapi:acmCertificateArn": "arn:aws:iam::123456789012:server-certificate/x" },
    "odapi:acmCertificateArn",
    /is not an ACM certificate ARN/,
  ],
  [
    "scale: HTTP opt-out with an ACM ARN",
    {
      ...SCALE,
      "odapi:httpListener": "true",
      "odapi:acmCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc-123",
    },
    "odapi:httpListener",
    /choose HTTPS with that certificate or the HTTP opt-out/,
  ],
];

describe("the scale target's rules", () => {
  test("a plain scale config, crons and an ACM ARN pass; the one-instance key rules do not apply", () => {
    expect(problemsOf(SCALE)).toEqual([]);
    expect(
      problemsOf({
        ...SCALE,
        "odapi:scaleToZeroCron": "0 20 * * *",
        "odapi:scaleUpCron": "0 7 * * 1-5",
        "odapi:acmCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc-123",
        "odapi:keyName": "vockey",
      }),
    ).toEqual([]);
  });

  test.each(SCALE_RULES)("%s", (_label, values, key, rule) => {
    const hit = problemsOf(values).find((p) => p.key === key && rule.test(p.rule));
    expect(hit).toBeDefined();
    expect(hit?.fix.length).toBeGreaterThan(10);
    expect(thrown(() => loadStackConfig(raw(values))).message).toContain(`${key} = `);
  });

  test("scale rules do not apply to the one-instance target", () => {
    expect(
      problemsOf({ "aws:region": "us-east-1", "odapi:minReplicas": "0", "odapi:warmPool": "true" }),
    ).toEqual([]);
  });
});

describe("every rule reports its key, the bad value, the rule and a fix", () => {
  test.each(RULES)("%s", (_label, values, key, rule) => {
    const problems = problemsOf(values);
    const hit = problems.find((p) => p.key === key && rule.test(p.rule));
    expect(hit).toBeDefined();
    expect(hit?.fix.length).toBeGreaterThan(10);
    // and loadStackConfig throws an OdapiError (exit code "config") whose message names the key
    const err = thrown(() => loadStackConfig(raw(values)));
    expect(err.message).toContain(`${key} = `);
    expect(err.exitCode).toBe(13);
  });
});

test("the Learner Lab fix for a missing key tells how to store labsuser.pem as a secret", () => {
  const err = thrown(() => loadStackConfig(raw({ ...LAB, "odapi:sshPrivateKey": "" })));
  expect(err.remedy).toBe(
    "pulumi config set --secret odapi:sshPrivateKey < ~/Downloads/labsuser.pem   (the key file of that key pair / host)",
  );
});

test("Learner Lab rules do not apply outside Learner Lab mode", () => {
  expect(
    problemsOf({
      "aws:region": "eu-central-1",
      "odapi:instanceType": "m5.4xlarge",
      "odapi:volumeSizeGb": "500",
    }),
  ).toEqual([]);
});

test("every declared key has a description and a default of its type", () => {
  for (const [key, spec] of Object.entries(configKeys())) {
    expect(spec.description.length).toBeGreaterThan(20);
    const d = spec.default as unknown;
    const ok =
      (spec.type === "string" && typeof d === "string") ||
      (spec.type === "integer" && Number.isInteger(d)) ||
      (spec.type === "boolean" && typeof d === "boolean") ||
      (spec.type === "array" && Array.isArray(d));
    expect([key, ok]).toEqual([key, true]);
  }
});
