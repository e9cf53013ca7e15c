// The real program (index.ts) on each real stack file, under Pulumi mocks: what would be created, with which
// security properties, in which order, and what the stack exports.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { makeTempDir, removeDir } from "../helpers/tmp";
import {
  API_KEY,
  DEPLOYER_IP,
  EIP,
  FAKE_CA_PEM,
  FAKE_HOST_KEY,
  FAKE_LOGIN_KEY,
  FAKE_SERVER_PEM,
  FAKE_TLS_KEY_PREFIX,
  type Json,
  LAB_PEM,
  type RecordedResource,
  ROOT,
  runStack,
  type StackRun,
} from "./harness";

const SECRET_KEY = { "odapi:sshPrivateKey": LAB_PEM };
const SECRET_KEYS = ["odapi:sshPrivateKey"];
const cpu = (overrides: Record<string, unknown> = {}) => runStack("cpu", { overrides });
/** The cpu stack with the lab's own key pair instead of a generated key: `vockey` + labsuser.pem as a secret. */
const cpuWithLabKey = (overrides: Record<string, unknown> = {}) =>
  runStack("cpu", {
    overrides: { "odapi:keyName": "vockey", ...SECRET_KEY, ...overrides },
    secretKeys: SECRET_KEYS,
  });
const gpu = (overrides: Record<string, unknown> = {}) => runStack("gpu", { overrides });
const DEV_HOST = { "odapi:sshHost": "192.0.2.10", ...SECRET_KEY };
const dev = (overrides: Record<string, unknown> = {}) =>
  runStack("dev", { overrides: { ...DEV_HOST, ...overrides }, secretKeys: SECRET_KEYS });

const INSTANCE = "aws:ec2/instance:Instance";
const SG = "aws:ec2/securityGroup:SecurityGroup";
const LOCAL = "command:local:Command";
const REMOTE = "command:remote:Command";

function ok(run: StackRun): StackRun {
  if (run.error) throw run.error;
  return run;
}

function ingressOn(run: StackRun, port: number) {
  return (run.one(SG).inputs.ingress as Json[]).filter((r) => r.fromPort <= port && port <= r.toPort);
}

/** Whether the input at a dotted path was sent as a secret (itself or an enclosing object). */
function secretAt(res: RecordedResource, at: string): boolean {
  return res.secretInputs.some((p) => p === at || at.startsWith(`${p}.`));
}

function everyIngress(run: StackRun): Json[] {
  return run.byType(SG).flatMap((sg) => sg.inputs.ingress as Json[]);
}

const AWS_STACKS: [string, () => Promise<StackRun>][] = [
  ["cpu", () => cpu()],
  ["gpu", () => gpu()],
];

describe.each(AWS_STACKS)("%s stack", (_name, run) => {
  let r: StackRun;
  beforeAll(async () => {
    r = ok(await run());
  });

  test("no ingress from 0.0.0.0/0 or ::/0 on port 22; SSH only from the deployer's IP", () => {
    const ssh = ingressOn(r, 22);
    expect(ssh.length).toBeGreaterThan(0);
    for (const rule of ssh) {
      expect(rule.cidrBlocks ?? []).not.toContain("0.0.0.0/0");
      expect(rule.ipv6CidrBlocks ?? []).not.toContain("::/0");
      expect(rule.cidrBlocks).toEqual([`${DEPLOYER_IP}/32`]);
    }
  });

  test("port 8500 (gRPC) is never open; only 22 and 8501 are", () => {
    expect(ingressOn(r, 8500)).toEqual([]);
    expect(everyIngress(r).map((x) => [x.fromPort, x.toPort, x.protocol])).toEqual([
      [22, 22, "tcp"],
      [8501, 8501, "tcp"],
    ]);
  });

  test("IMDSv2 required with hop limit 1", () => {
    const md = r.one(INSTANCE).inputs.metadataOptions;
    expect(md.httpTokens).toBe("required");
    expect(md.httpPutResponseHopLimit).toBe(1);
    expect(md.httpEndpoint).toBe("enabled");
  });

  test("a power-off from the host (the idle auto-stop) stops the instance, never terminates it", () => {
    expect(r.one(INSTANCE).inputs.instanceInitiatedShutdownBehavior).toBe("stop");
  });

  test("outputs say the hourly price (dated table) and the idle rule; status/start --stack read region and type", () => {
    expect(r.outputs.region).toBe("us-east-1");
    expect(r.outputs.instanceType).toBe(r.one(INSTANCE).inputs.instanceType);
    expect(r.outputs.hourlyCost).toMatch(
      /^\S+ in us-east-1: \$[\d.]+\/h on demand .*https:\/\/aws\.amazon\.com\/ec2\/pricing\/on-demand\//,
    );
    expect(r.outputs.idleStop).toMatch(/^idle auto-stop: /);
    expect(r.outputs.sshUser).toBe("ubuntu");
    expect(r.outputs.remoteDir).toBe("/opt/odapi");
  });

  test("root volume is an encrypted gp3 volume", () => {
    const root = r.one(INSTANCE).inputs.rootBlockDevice;
    expect(root.encrypted).toBe(true);
    expect(root.volumeType).toBe("gp3");
    expect(root.deleteOnTermination).toBe(true);
  });

  test("an Elastic IP is associated with the instance and is what the outputs use", () => {
    const eip = r.one("aws:ec2/eip:Eip");
    const assoc = r.one("aws:ec2/eipAssociation:EipAssociation");
    expect(assoc.inputs.instanceId).toBe(`${r.one(INSTANCE).name}-id`);
    expect(assoc.inputs.allocationId).toBe("eipalloc-0123");
    expect(eip.inputs.domain).toBe("vpc");
    expect(r.outputs.publicIp).toBe(EIP);
    expect(r.outputs.apiUrl).toBe(`https://${EIP}:8501`);
  });

  test("the bootstrap runs after the SSH wait, which retries without limit under a custom timeout", () => {
    const wait = r.one(REMOTE);
    const deploy = r.one(LOCAL);
    expect(deploy.opts.dependencies).toContain(wait.opts.urn);
    expect(wait.inputs.connection.dialErrorLimit).toBe(-1);
    expect(wait.inputs.connection.perDialTimeout).toBeGreaterThan(0);
    expect(wait.opts.customTimeouts?.create).toBe("15m");
    expect(wait.inputs.connection.host).toBe(EIP);
    // the wait checks the pinned host key, the same one the deploy passes on
    expect(wait.inputs.connection.hostKey).toMatch(/^ssh-ed25519 /);
    expect(deploy.inputs.create).toContain(`--host-key '${wait.inputs.connection.hostKey}'`);
  });

  test("the instance gets the pinned SSH host key through cloud-init", () => {
    const userData = r.one(INSTANCE).inputs.userData as string;
    expect(userData.startsWith("#cloud-config\n")).toBe(true);
    expect(userData).toContain("ed25519_private: |");
    expect(userData).toContain(FAKE_HOST_KEY.split("\n")[1]);
    expect(r.one(INSTANCE).inputs.userDataReplaceOnChange).toBe(true);
  });

  test("private keys and the API key are secrets and never appear in plain outputs", () => {
    expect(r.outputs.apiKey).toBe(API_KEY);
    expect(r.secret.apiKey).toBe(true);
    for (const [key, value] of Object.entries(r.outputs)) {
      if (r.secret[key]) continue;
      const text = JSON.stringify(value);
      expect(text).not.toContain("PRIVATE KEY");
      expect(text).not.toContain(API_KEY);
    }
  });

  test("secrets reach the deploy command only through its environment, never its command line", () => {
    const deploy = r.one(LOCAL);
    expect(secretAt(deploy, "environment.ODAPI_SSH_KEY")).toBe(true);
    expect(secretAt(deploy, "environment.ODAPI_API_KEY")).toBe(true);
    expect(secretAt(r.one(REMOTE), "connection.privateKey")).toBe(true);
    // the instance's user data holds the host's private key
    expect(secretAt(r.one(INSTANCE), "userData")).toBe(true);
    expect(secretAt(deploy, "create")).toBe(false);
    expect(deploy.inputs.environment.ODAPI_SSH_KEY).toMatch(/PRIVATE KEY/);
    expect(deploy.inputs.environment.ODAPI_API_KEY).toBe(API_KEY);
    for (const line of [deploy.inputs.create, deploy.inputs.delete]) {
      expect(line).not.toContain("PRIVATE KEY");
      expect(line).not.toContain(API_KEY);
    }
  });

  test("the deploy command runs odapi deploy from the project root and stops the containers on destroy", () => {
    const deploy = r.one(LOCAL);
    expect(deploy.inputs.dir).toBe(ROOT);
    expect(deploy.inputs.create).toMatch(
      new RegExp(
        `^node bin/odapi.cjs deploy --host ${EIP} --port 22 --user ubuntu --host-key 'ssh-ed25519 \\S+' --remote-dir /opt/odapi --version 1 --catalog ssd_mobilenet_v2 --catalog retinanet_resnet50_v1_fpn_640x640`,
      ),
    );
    expect(deploy.inputs.create).toMatch(/ --json$/);
    expect(deploy.inputs.delete).toMatch(new RegExp(`^node bin/odapi.cjs stop --host ${EIP} `));
    expect(deploy.inputs.environment.ODAPI_BUNDLE_SHA256).toMatch(/^[0-9a-f]{64}$/);
    expect(deploy.inputs.triggers).toEqual([`${r.one(INSTANCE).name}-id`]);
    expect(deploy.opts.deleteBeforeReplace).toBe(true);
  });

  test("the contract outputs exist", () => {
    for (const key of [
      "apiUrl",
      "predictUrls",
      "models",
      "sshCommand",
      "instanceId",
      "publicIp",
      "apiKey",
      "caCertificate",
    ]) {
      expect(r.outputs).toHaveProperty(key);
    }
    expect(r.outputs.models).toEqual(["ssd_mobilenet_v2", "retinanet_resnet50_v1_fpn_640x640"]);
    expect(r.outputs.predictUrls).toEqual({
      ssd_mobilenet_v2: `https://${EIP}:8501/v1/models/ssd_mobilenet_v2:predict`,
      retinanet_resnet50_v1_fpn_640x640: `https://${EIP}:8501/v1/models/retinanet_resnet50_v1_fpn_640x640:predict`,
    });
    expect(r.outputs.instanceId).toBe(`${r.one(INSTANCE).name}-id`);
    expect(r.outputs.sshCommand).toContain(`ubuntu@${EIP}`);
  });

  test("HTTPS: a private CA signs a certificate whose IP SAN is the Elastic IP; the CA is the caCertificate output", () => {
    const ca = r.one("tls:index/selfSignedCert:SelfSignedCert");
    expect(ca.inputs.isCaCertificate).toBe(true);
    const csr = r.one("tls:index/certRequest:CertRequest");
    expect(csr.inputs.ipAddresses).toEqual([EIP]);
    expect(csr.inputs.dnsNames ?? []).toEqual([]);
    const leaf = r.one("tls:index/locallySignedCert:LocallySignedCert");
    expect(leaf.inputs.caCertPem).toBe(FAKE_CA_PEM);
    expect(leaf.inputs.allowedUses).toContain("server_auth");
    expect(r.outputs.caCertificate).toBe(FAKE_CA_PEM);
    expect(r.secret.caCertificate).toBe(false);
    // The deploy gets the chain and the key in its environment, the key as a secret and never on the command line.
    const deploy = r.one(LOCAL);
    expect(deploy.inputs.environment.ODAPI_TLS_CERT).toBe(FAKE_SERVER_PEM + FAKE_CA_PEM);
    expect(deploy.inputs.environment.ODAPI_TLS_KEY).toBe(`${FAKE_TLS_KEY_PREFIX}odapi-tls-server-key`);
    expect(secretAt(deploy, "environment.ODAPI_TLS_KEY")).toBe(true);
    expect(deploy.inputs.create).not.toContain(FAKE_TLS_KEY_PREFIX);
    expect(JSON.stringify(r.outputs)).not.toContain(FAKE_TLS_KEY_PREFIX);
  });

  test("no key download: generates an ed25519 login key, imports its public half, exports the private half as a secret", () => {
    const key = r.byType("tls:index/privateKey:PrivateKey").find((k) => k.name.includes("login"));
    expect(key?.inputs.algorithm).toBe("ED25519");
    const pair = r.one("aws:ec2/keyPair:KeyPair");
    expect(pair.inputs.publicKey).toMatch(/^ssh-ed25519 /);
    expect(r.one(INSTANCE).inputs.keyName).toBe(`${pair.name}-generated`);
    expect(r.outputs.sshPrivateKey).toBe(FAKE_LOGIN_KEY);
    expect(r.secret.sshPrivateKey).toBe(true);
    // the generated key is what the SSH wait and the deploy log in with, and only as a secret
    expect(r.one(LOCAL).inputs.environment.ODAPI_SSH_KEY).toBe(FAKE_LOGIN_KEY);
    expect(r.one(REMOTE).inputs.connection.privateKey).toBe(FAKE_LOGIN_KEY);
    expect(secretAt(r.one(LOCAL), "environment.ODAPI_SSH_KEY")).toBe(true);
  });

  test("no IAM resources are created", () => {
    expect(r.resources.filter((x) => x.type.startsWith("aws:iam/"))).toEqual([]);
  });
});

describe("cpu stack (Learner Lab)", () => {
  let r: StackRun;
  beforeAll(async () => {
    r = ok(await cpu());
  });

  test("t3.large on the newest Ubuntu 22.04 from Canonical, resolved with getAmi", () => {
    expect(r.one(INSTANCE).inputs.instanceType).toBe("t3.large");
    const ami = r.calls.find((c) => c.token === "aws:ec2/getAmi:getAmi");
    expect(ami?.inputs.owners).toEqual(["099720109477"]);
    expect(ami?.inputs.mostRecent).toBe(true);
    expect(ami?.inputs.filters).toContainEqual({
      name: "name",
      values: ["ubuntu/images/hvm-ssd*/ubuntu-jammy-22.04-amd64-server-*"],
    });
    expect(r.one(INSTANCE).inputs.ami).toBe("ami-0ubuntu000000000");
    expect(r.calls.filter((c) => c.token.startsWith("aws:ssm/"))).toEqual([]);
  });

  test("the lab's key pair stays an option: vockey with the private key from the stack secret, nothing generated", async () => {
    const lab = ok(await cpuWithLabKey());
    expect(lab.one(INSTANCE).inputs.keyName).toBe("vockey");
    expect(lab.byType("aws:ec2/keyPair:KeyPair")).toEqual([]);
    expect(lab.byType("tls:index/privateKey:PrivateKey").filter((k) => k.name.includes("login"))).toEqual([]);
    expect(lab.one(LOCAL).inputs.environment.ODAPI_SSH_KEY).toBe(LAB_PEM);
    expect(lab.one(REMOTE).inputs.connection.privateKey).toBe(LAB_PEM);
    expect(secretAt(lab.one(REMOTE), "connection.privateKey")).toBe(true);
    expect(lab.outputs).not.toHaveProperty("sshPrivateKey");
  });

  test("root volume sized automatically, within the lab's 100 GB", () => {
    const size = r.one(INSTANCE).inputs.rootBlockDevice.volumeSize;
    expect(size).toBeGreaterThanOrEqual(20);
    expect(size).toBeLessThanOrEqual(100);
  });

  test("idle auto-stop off by default (the lab stops instances itself): the deploy removes any timer", () => {
    expect(r.one(LOCAL).inputs.create).toContain(" --idle-stop-minutes 0 ");
    expect(r.outputs.idleStopMinutes).toBe(0);
    expect(r.outputs.idleStop).toBe("idle auto-stop: off (the instance runs until you stop it)");
    expect(r.outputs.hourlyCostUsd).toBe(0.0832);
  });

  test("idleStopMinutes set on the cpu stack: passed to the deploy, and a new value re-runs it", async () => {
    const on = ok(await cpu({ "odapi:idleStopMinutes": "30" }));
    expect(on.one(LOCAL).inputs.create).toContain(" --idle-stop-minutes 30 ");
    expect(on.outputs.idleStopMinutes).toBe(30);
    expect(on.one(LOCAL).inputs.environment.ODAPI_BUNDLE_SHA256).not.toBe(
      r.one(LOCAL).inputs.environment.ODAPI_BUNDLE_SHA256,
    );
  });

  test("the CPU host runs the CPU image (no --gpu)", () => {
    expect(r.one(LOCAL).inputs.create).not.toContain("--gpu");
  });

  test("an instance profile is attached only when configured", async () => {
    expect(r.one(INSTANCE).inputs.iamInstanceProfile).toBeUndefined();
    const withProfile = ok(await cpu({ "odapi:instanceProfile": "LabInstanceProfile" }));
    expect(withProfile.one(INSTANCE).inputs.iamInstanceProfile).toBe("LabInstanceProfile");
  });
});

describe("gpu stack", () => {
  let r: StackRun;
  beforeAll(async () => {
    r = ok(await gpu());
  });

  test("g4dn.xlarge on the Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) owned by amazon", () => {
    expect(r.one(INSTANCE).inputs.instanceType).toBe("g4dn.xlarge");
    const ami = r.calls.find((c) => c.token === "aws:ec2/getAmi:getAmi");
    expect(ami?.inputs.owners).toEqual(["amazon"]);
    expect(ami?.inputs.filters).toContainEqual({
      name: "name",
      values: ["Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"],
    });
    expect(r.one(INSTANCE).inputs.ami).toBe("ami-0dlami0000000000");
  });

  test("the root volume is at least the DLAMI's snapshot plus room for the GPU image and models", () => {
    expect(r.one(INSTANCE).inputs.rootBlockDevice.volumeSize).toBeGreaterThanOrEqual(75 + 14 + 2);
  });

  test("deploys with --gpu", () => {
    expect(r.one(LOCAL).inputs.create).toContain(" --gpu --json");
  });

  test("cost guard on by default: stops after 60 idle minutes; the output names $0.526/h", () => {
    expect(r.one(LOCAL).inputs.create).toContain(" --idle-stop-minutes 60 ");
    expect(r.outputs.idleStopMinutes).toBe(60);
    expect(r.outputs.hourlyCostUsd).toBe(0.526);
    expect(r.outputs.idleStop).toContain("after 60 min without a model request");
  });
});

describe("dev stack (own host)", () => {
  let r: StackRun;
  beforeAll(async () => {
    r = ok(await dev({ "odapi:hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDevHostKey" }));
  });

  test("creates no AWS resources and looks nothing up in AWS", () => {
    expect(r.resources.filter((x) => x.type.startsWith("aws:"))).toEqual([]);
    expect(r.calls).toEqual([]);
  });

  test("same bootstrap path: SSH wait, then odapi deploy against the configured host", () => {
    const wait = r.one(REMOTE);
    const deploy = r.one(LOCAL);
    expect(deploy.opts.dependencies).toContain(wait.opts.urn);
    expect(wait.inputs.connection).toMatchObject({
      host: "192.0.2.10",
      port: 22,
      user: "ubuntu",
      dialErrorLimit: -1,
    });
    expect(wait.inputs.connection.hostKey).toBe("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDevHostKey");
    expect(deploy.inputs.create).toBe(
      "node bin/odapi.cjs deploy --host 192.0.2.10 --port 22 --user ubuntu --host-key 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDevHostKey' --remote-dir /opt/odapi --version 1 --catalog ssd_mobilenet_v2 --catalog retinanet_resnet50_v1_fpn_640x640 --json",
    );
    // On your own host a failed stop is reported, not swallowed.
    expect(deploy.inputs.delete).toBe(
      "node bin/odapi.cjs stop --host 192.0.2.10 --port 22 --user ubuntu --host-key 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDevHostKey' --remote-dir /opt/odapi",
    );
    expect(deploy.inputs.triggers).toEqual(["ubuntu@192.0.2.10:22"]);
  });

  test("outputs point at the host; the private key stays out of them", () => {
    expect(r.outputs.apiUrl).toBe("https://192.0.2.10:8501");
    expect(r.outputs.caCertificate).toBe(FAKE_CA_PEM);
    expect(r.one("tls:index/certRequest:CertRequest").inputs.ipAddresses).toEqual(["192.0.2.10"]);
    expect(r.outputs.publicIp).toBe("192.0.2.10");
    expect(r.outputs.instanceId).toBe("external:192.0.2.10");
    expect(r.outputs).not.toHaveProperty("sshPrivateKey");
    expect(r.secret.apiKey).toBe(true);
    expect(JSON.stringify(r.outputs)).not.toContain("PRIVATE KEY");
  });

  test("no cost guard on your own host: no idle flag, no price or idle outputs", () => {
    expect(r.one(LOCAL).inputs.create).not.toContain("--idle-stop-minutes");
    for (const key of ["idleStopMinutes", "idleStop", "hourlyCost", "hourlyCostUsd"])
      expect(r.outputs).not.toHaveProperty(key);
  });
});

describe("HTTPS choices: a domain, your own certificate, no gateway", () => {
  test("odapi:domain is a DNS SAN beside the Elastic IP; a host given by name is a DNS SAN", async () => {
    const withDomain = ok(await cpu({ "odapi:domain": "api.example.org" }));
    const csr = withDomain.one("tls:index/certRequest:CertRequest");
    expect(csr.inputs.ipAddresses).toEqual([EIP]);
    expect(csr.inputs.dnsNames).toEqual(["api.example.org"]);
    const named = ok(await dev({ "odapi:sshHost": "srv.example.org" }));
    const namedCsr = named.one("tls:index/certRequest:CertRequest");
    expect(namedCsr.inputs.ipAddresses ?? []).toEqual([]);
    expect(namedCsr.inputs.dnsNames).toEqual(["srv.example.org"]);
    expect(named.outputs.apiUrl).toBe("https://srv.example.org:8501");
  });

  test("odapi:tlsCert/tlsKey: no private CA, the deploy serves them, no caCertificate output", async () => {
    const own = ok(
      await runStack("cpu", {
        overrides: { "odapi:tlsCert": "OWN-CHAIN-PEM", "odapi:tlsKey": "OWN-KEY-PEM" },
        secretKeys: ["odapi:tlsCert", "odapi:tlsKey"],
      }),
    );
    expect(own.byType("tls:index/selfSignedCert:SelfSignedCert")).toEqual([]);
    expect(own.byType("tls:index/locallySignedCert:LocallySignedCert")).toEqual([]);
    const env = own.one(LOCAL).inputs.environment;
    expect(env.ODAPI_TLS_CERT).toBe("OWN-CHAIN-PEM");
    expect(env.ODAPI_TLS_KEY).toBe("OWN-KEY-PEM");
    expect(secretAt(own.one(LOCAL), "environment.ODAPI_TLS_KEY")).toBe(true);
    expect(own.outputs).not.toHaveProperty("caCertificate");
    expect(own.outputs.apiUrl).toBe(`https://${EIP}:8501`);
  });

  test("without the gateway (requireApiKey false): no certificate, plain HTTP", async () => {
    const open = ok(await cpu({ "odapi:requireApiKey": false }));
    expect(open.byType("tls:index/certRequest:CertRequest")).toEqual([]);
    expect(open.one(LOCAL).inputs.environment).not.toHaveProperty("ODAPI_TLS_CERT");
    expect(open.outputs).not.toHaveProperty("caCertificate");
    expect(open.outputs.apiUrl).toBe(`http://${EIP}:8501`);
  });

  test("a re-issued certificate re-runs the deploy (it is part of the bundle hash)", async () => {
    const hash = async (cert: string) =>
      ok(
        await runStack("cpu", {
          overrides: { "odapi:tlsCert": cert, "odapi:tlsKey": "K" },
          secretKeys: ["odapi:tlsCert", "odapi:tlsKey"],
        }),
      ).one(LOCAL).inputs.environment.ODAPI_BUNDLE_SHA256;
    expect(await hash("CERT-1")).toBe(await hash("CERT-1"));
    expect(await hash("CERT-2")).not.toBe(await hash("CERT-1"));
  });
});

describe("the deploy re-runs exactly when the bundle changes", () => {
  const hashOf = async (run: Promise<StackRun>) =>
    ok(await run).one(LOCAL).inputs.environment.ODAPI_BUNDLE_SHA256;

  test("same config → same hash; another model list or version → another hash", async () => {
    const base = await hashOf(dev());
    expect(await hashOf(dev())).toBe(base);
    expect(await hashOf(dev({ "odapi:models": ["ssd_mobilenet_v2"] }))).not.toBe(base);
    expect(await hashOf(dev({ "odapi:modelVersion": 2 }))).not.toBe(base);
  });

  test("pruneOldVersions passes --prune to odapi deploy (off by default)", async () => {
    expect(ok(await dev()).one(LOCAL).inputs.create).not.toContain("--prune");
    expect(ok(await dev({ "odapi:pruneOldVersions": true })).one(LOCAL).inputs.create).toMatch(
      / --prune --json$/,
    );
  });

  test("local model files are part of the bundle: editing one changes the hash", async () => {
    const dir = makeTempDir("odapi-infra-models-");
    const cache = makeTempDir("odapi-infra-cache-");
    const prevCache = process.env.ODAPI_CACHE_DIR;
    process.env.ODAPI_CACHE_DIR = cache;
    try {
      mkdirSync(path.join(dir, "mine", "1", "variables"), { recursive: true });
      writeFileSync(path.join(dir, "mine", "1", "saved_model.pb"), "graph-v1");
      writeFileSync(path.join(dir, "mine", "1", "variables", "variables.index"), "idx");
      const first = ok(await dev({ "odapi:localModelsDir": dir }));
      const deploy = first.one(LOCAL);
      expect(deploy.inputs.create).toContain(` --models ${dir} --json`);
      expect(first.outputs.models).toEqual(["ssd_mobilenet_v2", "retinanet_resnet50_v1_fpn_640x640", "mine"]);
      writeFileSync(path.join(dir, "mine", "1", "saved_model.pb"), "graph-v2");
      const second = ok(await dev({ "odapi:localModelsDir": dir }));
      expect(second.one(LOCAL).inputs.environment.ODAPI_BUNDLE_SHA256).not.toBe(
        deploy.inputs.environment.ODAPI_BUNDLE_SHA256,
      );
    } finally {
      if (prevCache === undefined) delete process.env.ODAPI_CACHE_DIR;
      else process.env.ODAPI_CACHE_DIR = prevCache;
      removeDir(dir);
      removeDir(cache);
    }
  });
});

describe("options", () => {
  test("allowedCidrs replaces the detected IP (no lookup), apiCidrs open only the API port", async () => {
    let lookups = 0;
    const r = ok(
      await runStack("cpu", {
        overrides: {
          "odapi:allowedCidrs": ["10.1.2.0/24", "2001:db8::/64"],
          "odapi:apiCidrs": ["0.0.0.0/0"],
        },
        detectPublicIp: async () => {
          lookups += 1;
          return DEPLOYER_IP;
        },
      }),
    );
    expect(lookups).toBe(0);
    expect(ingressOn(r, 22)).toEqual([
      expect.objectContaining({ cidrBlocks: ["10.1.2.0/24"], ipv6CidrBlocks: ["2001:db8::/64"] }),
    ]);
    expect(ingressOn(r, 8501)).toEqual([
      expect.objectContaining({
        cidrBlocks: ["10.1.2.0/24", "0.0.0.0/0"],
        ipv6CidrBlocks: ["2001:db8::/64"],
      }),
    ]);
  });

  test("requireApiKey false: no API key resource, no apiKey output, no ODAPI_API_KEY", async () => {
    const r = ok(await dev({ "odapi:requireApiKey": false }));
    expect(r.byType("random:index/randomPassword:RandomPassword")).toEqual([]);
    expect(r.outputs).not.toHaveProperty("apiKey");
    expect(r.one(LOCAL).inputs.environment).not.toHaveProperty("ODAPI_API_KEY");
  });

  test("a pinned AMI is looked up by id (for its root size) instead of by name", async () => {
    const r = ok(await cpu({ "odapi:amiId": "ami-0123456789abcdef0" }));
    const call = r.calls.find((c) => c.token === "aws:ec2/getAmi:getAmi");
    expect(call?.inputs.filters).toEqual([{ name: "image-id", values: ["ami-0123456789abcdef0"] }]);
  });

  test("an explicit volume size is used as given", async () => {
    const r = ok(await cpu({ "odapi:volumeSizeGb": 64 }));
    expect(r.one(INSTANCE).inputs.rootBlockDevice.volumeSize).toBe(64);
  });
});

describe("every validation error stops the program before any resource is registered", () => {
  const customResources = (r: StackRun) => r.resources.filter((x) => !x.type.startsWith("odapi:"));

  test.each<[string, () => Promise<StackRun>, RegExp]>([
    [
      "Learner Lab: GPU",
      () => cpu({ "odapi:gpu": true, "odapi:instanceType": "g4dn.xlarge" }),
      /odapi:gpu = true: Learner Lab has no GPU/,
    ],
    [
      "Learner Lab: size above large",
      () => cpu({ "odapi:instanceType": "t3.xlarge" }),
      /odapi:instanceType = "t3.xlarge": Learner Lab allows instance sizes nano, micro, small, medium and large only/,
    ],
    [
      "Learner Lab: region",
      () => cpu({ "aws:region": "eu-central-1" }),
      /aws:region = "eu-central-1": Learner Lab allows only us-east-1 and us-west-2/,
    ],
    [
      "Learner Lab: volume over 100 GB",
      () => cpu({ "odapi:volumeSizeGb": 200 }),
      /odapi:volumeSizeGb = 200: Learner Lab allows EBS volumes up to 100 GB/,
    ],
    [
      "missing private key for vockey",
      () => runStack("cpu", { overrides: { "odapi:keyName": "vockey" } }),
      /odapi:sshPrivateKey = "": is required with odapi:keyName \(vockey\)[\s\S]*labsuser\.pem/,
    ],
    [
      "dev: missing host",
      () => runStack("dev", { overrides: SECRET_KEY, secretKeys: SECRET_KEYS }),
      /odapi:sshHost = "": is required for target 'host'/,
    ],
    [
      "dev: missing key",
      () => runStack("dev", { overrides: { "odapi:sshHost": "192.0.2.10" } }),
      /odapi:sshPrivateKey = "": is required for target 'host'/,
    ],
    [
      "world SSH",
      () => gpu({ "odapi:allowedCidrs": ["0.0.0.0/0"] }),
      /odapi:allowedCidrs = "0.0.0.0\/0": opens SSH \(port 22\) to the whole internet/,
    ],
    [
      "world SSH (IPv6)",
      () => gpu({ "odapi:allowedCidrs": ["::/0"] }),
      /odapi:allowedCidrs = "::\/0": opens SSH/,
    ],
    [
      "unknown model",
      () => gpu({ "odapi:models": ["yolo"] }),
      /odapi:models = "yolo": is not a catalog model/,
    ],
    [
      "deployer IP not detectable",
      () =>
        runStack("gpu", {
          detectPublicIp: async () => {
            throw new Error("offline");
          },
        }),
      /offline/,
    ],
    [
      "volume below the AMI snapshot",
      () => gpu({ "odapi:volumeSizeGb": 40 }),
      /odapi:volumeSizeGb = 40: is smaller than the AMI's 75 GB root snapshot/,
    ],
    [
      "missing local models dir",
      () => dev({ "odapi:localModelsDir": "no/such/dir" }),
      /odapi:localModelsDir = "no\/such\/dir": directory .* does not exist/,
    ],
  ])("%s", async (_label, run, message) => {
    const r = await run();
    expect(r.error).toBeDefined();
    expect(String((r.error as Error).message)).toMatch(message);
    expect(customResources(r)).toEqual([]);
  });

  test("Learner Lab errors name the key, the value, the rule and the fix, all at once", async () => {
    const r = await cpu({ "odapi:instanceType": "m5.2xlarge", "aws:region": "eu-west-1" });
    const msg = String((r.error as Error).message);
    expect(msg).toContain('odapi:instanceType = "m5.2xlarge"');
    expect(msg).toContain('aws:region = "eu-west-1"');
    expect(msg).toContain(
      "fix: (1) pulumi config set odapi:instanceType t3.large; (2) pulumi config set aws:region us-east-1",
    );
  });
});
