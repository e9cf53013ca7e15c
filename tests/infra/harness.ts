// Runs the real Pulumi program (index.ts) under pulumi.runtime.setMocks with a real stack file's config, and
// records every resource (inputs + resource options), every invoke and the stack outputs.
import { readFileSync } from "node:fs";
import path from "node:path";
import type * as PulumiModule from "@pulumi/pulumi";
import yaml from "js-yaml";
import { type RunResult, runProcess } from "../helpers/run";

/** Mocked resource inputs and engine requests are untyped JSON. */
// biome-ignore lint/suspicious/noExplicitAny: untyped JSON from the mock monitor
export type Json = any;

export const ROOT = path.resolve(__dirname, "../..");

const SDKS: Record<string, unknown> = {
  "@pulumi/pulumi": require("@pulumi/pulumi"),
  "@pulumi/aws": require("@pulumi/aws"),
  "@pulumi/tls": require("@pulumi/tls"),
  "@pulumi/random": require("@pulumi/random"),
  "@pulumi/command": require("@pulumi/command"),
};

/** Fake but well-formed keys, so the cloud-init renderer accepts them and leaks are easy to grep for. */
export const FAKE_LOGIN_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nTE9HSU5LRVlsb2dpbmtleWxvZ2lua2V5\n-----END OPENSSH PRIVATE KEY-----";
export const FAKE_HOST_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nSE9TVEtFWWhvc3RrZXlob3N0a2V5\n-----END OPENSSH PRIVATE KEY-----";
export const FAKE_HOST_PUB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyPublicPartForTests0123456789";
export const LAB_PEM =
  "-----BEGIN RSA PRIVATE KEY-----\nTEFCU1VTRVJsYWJ1c2Vya2V5\n-----END RSA PRIVATE KEY-----";
/** Stand-ins for the API certificate's PEMs (the mocks do not sign anything). */
export const FAKE_CA_PEM = "-----BEGIN CERTIFICATE-----\nRkFLRUNB\n-----END CERTIFICATE-----\n";
export const FAKE_SERVER_PEM = "-----BEGIN CERTIFICATE-----\nRkFLRVNFUlZFUg==\n-----END CERTIFICATE-----\n";
export const FAKE_TLS_KEY_PREFIX = "FAKE-TLS-PRIVATE-KEY:";
export const API_KEY = "ApiKeyFromRandomPassword0123456789abcdef";
export const DEPLOYER_IP = "198.51.100.7";
export const EIP = "203.0.113.10";
/** What the mocked AWS answers for the scale stack: default VPC, its default subnets, the load balancer. */
export const DEFAULT_VPC = "vpc-0default00000000";
export const DEFAULT_VPC_CIDR = "172.31.0.0/16";
export const DEFAULT_SUBNETS = ["subnet-0aaa", "subnet-0bbb", "subnet-0ccc"];
export const OFFERED_AZS = ["us-east-1a", "us-east-1b", "us-east-1c"];
export const ALB_DNS = "odapi-lb-alb-1234567890.us-east-1.elb.amazonaws.com";
export const ALB_ARN_SUFFIX = "app/odapi-lb-alb-5e1c2b3/50dc6c495c0c9188";
export const TG_ARN_SUFFIX = "targetgroup/odapi-lb-tg-7f0a1b2/73e2d6bc24d8a067";
export const MODELS_BUCKET = "odapi-models-bucket-0a1b2c3";
export const FAKE_TLS_KEY = "-----BEGIN PRIVATE KEY-----\nVExTa2V5\n-----END PRIVATE KEY-----\n";

type YamlMap = Record<string, unknown>;

function yamlFile(name: string): YamlMap {
  return yaml.load(readFileSync(path.join(ROOT, name), "utf8")) as YamlMap;
}

/** Config as the Pulumi engine hands it to the program: project defaults, overridden by the stack file; all strings. */
export function engineConfig(stack: string, overrides: Record<string, unknown> = {}): Record<string, string> {
  const project = yamlFile("Pulumi.yaml");
  const namespace = project.name as string;
  const merged: Record<string, unknown> = {};
  for (const [key, decl] of Object.entries((project.config ?? {}) as Record<string, { default?: unknown }>)) {
    merged[key.includes(":") ? key : `${namespace}:${key}`] = decl.default;
  }
  Object.assign(merged, (yamlFile(`Pulumi.${stack}.yaml`).config ?? {}) as YamlMap, overrides);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) {
    if (v === undefined) continue;
    out[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return out;
}

export interface RecordedResource {
  type: string;
  name: string;
  /** Inputs with secrets unwrapped to their values… */
  inputs: Record<string, Json>;
  /** …and the dotted paths of the inputs that arrived as secrets ("environment.ODAPI_SSH_KEY"). */
  secretInputs: string[];
  /** Resource options as registered with the engine. */
  opts: RegisteredOptions;
}

export interface RegisteredOptions {
  urn?: string;
  dependencies?: string[];
  deleteBeforeReplace?: boolean;
  customTimeouts?: { create?: string; update?: string };
  parent?: string;
  ignoreChanges?: string[];
}

export interface StackRun {
  resources: RecordedResource[];
  calls: { token: string; inputs: Record<string, Json> }[];
  /** The program's exported values, resolved; undefined entries are dropped (as Pulumi does). */
  outputs: Record<string, unknown>;
  /** Which exported outputs are secrets. */
  secret: Record<string, boolean>;
  byType(type: string): RecordedResource[];
  one(type: string): RecordedResource;
  error?: unknown;
}

export interface RunOptions {
  overrides?: Record<string, unknown>;
  secretKeys?: string[];
  /** Replaces the deployer-IP lookup (default: returns DEPLOYER_IP). */
  detectPublicIp?: () => Promise<string>;
  /** getAmi answer (default: an 8 GB Ubuntu image / 75 GB DLAMI). */
  ami?: Record<string, unknown>;
  /** getSubnets answer for the default VPC (default: DEFAULT_SUBNETS). */
  subnets?: string[];
}

function fakeState(type: string, name: string, inputs: Record<string, Json>): Record<string, Json> {
  switch (type) {
    case "tls:index/privateKey:PrivateKey":
      if (name.includes("-tls-")) return { ...inputs, privateKeyPem: `${FAKE_TLS_KEY_PREFIX}${name}` };
      return name.includes("hostkey")
        ? { ...inputs, privateKeyOpenssh: FAKE_HOST_KEY, publicKeyOpenssh: `${FAKE_HOST_PUB}\n` }
        : { ...inputs, privateKeyOpenssh: FAKE_LOGIN_KEY, publicKeyOpenssh: "ssh-ed25519 AAAALoginPub\n" };
    case "tls:index/selfSignedCert:SelfSignedCert":
      return { ...inputs, certPem: FAKE_CA_PEM };
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { ...inputs, certPem: FAKE_SERVER_PEM };
    case "tls:index/certRequest:CertRequest":
      return {
        ...inputs,
        certRequestPem: "-----BEGIN CERTIFICATE REQUEST-----\nQ1NS\n-----END CERTIFICATE REQUEST-----\n",
      };
    case "random:index/randomPassword:RandomPassword":
      return { ...inputs, result: API_KEY };
    case "aws:ec2/eip:Eip":
      return { ...inputs, publicIp: EIP, allocationId: "eipalloc-0123" };
    case "aws:ec2/eipAssociation:EipAssociation":
      return { ...inputs, publicIp: EIP };
    case "aws:ec2/keyPair:KeyPair":
      return { ...inputs, keyName: `${name}-generated` };
    case "command:local:Command":
      return { ...inputs, stdout: '{"uploadedFiles":0}', stderr: "" };
    case "command:remote:Command":
      return { ...inputs, stdout: "odapi-ssh-ready", stderr: "" };
    case "aws:s3/bucket:Bucket":
      return { ...inputs, bucket: MODELS_BUCKET, arn: `arn:aws:s3:::${MODELS_BUCKET}` };
    case "aws:lb/loadBalancer:LoadBalancer":
      return {
        ...inputs,
        dnsName: ALB_DNS,
        arnSuffix: ALB_ARN_SUFFIX,
        arn: `arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/${ALB_ARN_SUFFIX}`,
      };
    case "aws:lb/targetGroup:TargetGroup":
      return {
        ...inputs,
        arnSuffix: TG_ARN_SUFFIX,
        arn: `arn:aws:elasticloadbalancing:us-east-1:123456789012:${TG_ARN_SUFFIX}`,
      };
    case "aws:acm/certificate:Certificate":
      return { ...inputs, arn: "arn:aws:acm:us-east-1:123456789012:certificate/imported-0001" };
    case "aws:ec2/launchTemplate:LaunchTemplate":
      return { ...inputs, latestVersion: 3 };
    case "aws:ec2/securityGroup:SecurityGroup":
      return { ...inputs, id: `${name}-id` };
    case "aws:autoscaling/group:Group":
    case "aws:iam/instanceProfile:InstanceProfile":
    case "aws:iam/role:Role":
      return { ...inputs, name: `${name}-generated` };
    default:
      return { ...inputs };
  }
}

/** Pulumi's wire marker for a secret value ({ [SIG]: SECRET, value }). */
const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

function unwrapSecrets(value: unknown, at: string, secrets: string[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => unwrapSecrets(v, `${at}[${i}]`, secrets));
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (obj[SIG] === SECRET_SIG) {
      secrets.push(at);
      return unwrapSecrets(obj.value, at, secrets);
    }
    return Object.fromEntries(
      Object.entries(obj).map(([k, v]) => [k, unwrapSecrets(v, at ? `${at}.${k}` : k, secrets)]),
    );
  }
  return value;
}

async function resolve(
  pulumi: typeof PulumiModule,
  o: unknown,
): Promise<{ value: unknown; secret: boolean }> {
  // Output internals: promise() is the only way to see a rejected output (apply never runs then), and every
  // derived promise must be settled so a failing program does not leave unhandled rejections behind.
  const out = pulumi.output(o) as unknown as {
    promise(): Promise<unknown>;
    isKnown: Promise<boolean>;
    isSecret: Promise<boolean>;
    allResources?: () => Promise<unknown>;
  };
  const [value, , secret] = await Promise.allSettled([
    out.promise(),
    out.isKnown,
    out.isSecret,
    out.allResources?.(),
  ]);
  if (value.status === "rejected") throw value.reason;
  return { value: value.value, secret: secret.status === "fulfilled" && secret.value };
}

const STACK_TYPE = "pulumi:pulumi:Stack";

/** What a stack transformation saw for one resource: the resource and the options it was declared with. */
interface Declared {
  key: string;
  resource: PulumiModule.Resource;
  opts: PulumiModule.ResourceOptions;
}

/** A resource's URN once the (mock) engine has registered it. */
function urnOf(res: PulumiModule.Resource): Promise<string> {
  return new Promise((done) => res.urn.apply(done));
}

/** Waits until every declared resource is registered, including ones declared while waiting. */
async function registered(declared: Declared[]): Promise<void> {
  for (let seen = -1; seen !== declared.length; ) {
    seen = declared.length;
    await Promise.all(declared.map((d) => urnOf(d.resource)));
  }
}

/** The declared options in the engine's terms: dependencies as URNs, timeouts, parent URN. */
async function registeredOptions(d: Declared): Promise<RegisteredOptions> {
  const dependsOn = (await d.opts.dependsOn) ?? [];
  const deps = await Promise.all((Array.isArray(dependsOn) ? dependsOn : [dependsOn]).map((dep) => dep));
  const timeouts = d.opts.customTimeouts;
  return {
    urn: await urnOf(d.resource),
    // The program passes resources themselves, never outputs of resources.
    dependencies: await Promise.all(deps.map((dep) => urnOf(dep as PulumiModule.Resource))),
    deleteBeforeReplace: (d.opts as PulumiModule.CustomResourceOptions).deleteBeforeReplace ?? false,
    customTimeouts: timeouts ? { create: timeouts.create, update: timeouts.update } : undefined,
    parent: d.opts.parent ? await urnOf(d.opts.parent) : undefined,
    ignoreChanges: d.opts.ignoreChanges,
  };
}

/** Loads index.ts in a fresh module registry with the given stack's config; never throws (see .error). */
export async function runStack(stack: string, opts: RunOptions = {}): Promise<StackRun> {
  const resources: RecordedResource[] = [];
  const calls: { token: string; inputs: Record<string, Json> }[] = [];
  const outputs: Record<string, unknown> = {};
  const secret: Record<string, boolean> = {};
  const options = new Map<string, RegisteredOptions>();
  let error: unknown;
  const defaultAmi =
    engineConfig(stack, opts.overrides)["odapi:gpu"] === "true"
      ? {
          id: "ami-0dlami0000000000",
          rootDeviceName: "/dev/sda1",
          blockDeviceMappings: [{ deviceName: "/dev/sda1", ebs: { volume_size: "75" } }],
        }
      : {
          id: "ami-0ubuntu000000000",
          rootDeviceName: "/dev/sda1",
          blockDeviceMappings: [{ deviceName: "/dev/sda1", ebs: { volume_size: "8" } }],
        };

  // Each isolated program run loads its own copy of part of @pulumi/pulumi's runtime, and each copy's promise
  // leak detector adds one process 'exit' listener: a test file with a dozen runs passes Node's default of 10.
  process.setMaxListeners(Math.max(process.getMaxListeners(), 64));
  const pulumi = SDKS["@pulumi/pulumi"] as typeof PulumiModule;
  await jest.isolateModulesAsync(async () => {
    // The SDKs are loaded once per test file and shared (loading @pulumi/aws takes seconds); the program and
    // everything it imports from this repository is loaded fresh for every run.
    for (const [name, mod] of Object.entries(SDKS)) jest.doMock(name, () => mod);
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          // The harness's own root stack is not part of what the program creates.
          if (args.type === STACK_TYPE) return { id: undefined, state: {} };
          const secretInputs: string[] = [];
          const inputs = unwrapSecrets(args.inputs, "", secretInputs) as Record<string, Json>;
          resources.push({ type: args.type, name: args.name, inputs, secretInputs, opts: {} });
          return { id: `${args.name}-id`, state: fakeState(args.type, args.name, args.inputs) };
        },
        call(args) {
          calls.push({ token: args.token, inputs: args.inputs });
          if (args.token === "aws:ec2/getAmi:getAmi") return opts.ami ?? defaultAmi;
          if (args.token === "aws:ec2/getVpc:getVpc") return { id: DEFAULT_VPC, cidrBlock: DEFAULT_VPC_CIDR };
          if (args.token === "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings")
            return { locations: OFFERED_AZS };
          if (args.token === "aws:ec2/getSubnets:getSubnets") return { ids: opts.subnets ?? DEFAULT_SUBNETS };
          return {};
        },
      },
      "odapi",
      stack,
      false,
    );
    pulumi.runtime.setAllConfig(engineConfig(stack, opts.overrides), opts.secretKeys ?? []);
    jest.doMock("../../infra/public-ip", () => ({
      ...jest.requireActual("../../infra/public-ip"),
      detectPublicIp: opts.detectPublicIp ?? (async () => DEPLOYER_IP),
    }));
    // The mocks' newResource sees no resource options: a stack transformation (public API, applied to every
    // resource under the root stack) records what each resource asked for.
    const declared: Declared[] = [];
    // The stack's init never rejects (a rejected root stack is an unhandled rejection inside the SDK): the
    // program's error is kept in `error` instead.
    await pulumi.runtime.runInPulumiStack(async () => {
      pulumi.runtime.registerStackTransformation((args) => {
        declared.push({ key: `${args.type}::${args.name}`, resource: args.resource, opts: args.opts });
        return undefined;
      });
      try {
        const program = (await import("../../index")) as Record<string, unknown>;
        const exported = Object.entries(program).filter(([, value]) => pulumi.Output.isInstance(value));
        const settled = await Promise.allSettled(exported.map(([, value]) => resolve(pulumi, value)));
        // Resources nobody exports (the deploy command) may still be registering: wait for every URN before
        // the next run replaces the mocks.
        await registered(declared);
        settled.forEach((r, i) => {
          if (r.status === "rejected") throw r.reason;
          if (r.value.value === undefined) return;
          outputs[exported[i][0]] = r.value.value;
          secret[exported[i][0]] = r.value.secret;
        });
        for (const d of declared) options.set(d.key, await registeredOptions(d));
      } catch (err) {
        error = err;
      }
      return undefined;
    });
  });
  for (const r of resources) r.opts = options.get(`${r.type}::${r.name}`) ?? {};
  const custom = resources.filter((r) => !r.type.startsWith("odapi:"));
  return {
    resources,
    calls,
    outputs,
    secret,
    error,
    byType: (type) => resources.filter((r) => r.type === type),
    one(type) {
      const found = resources.filter((r) => r.type === type);
      if (found.length !== 1)
        throw new Error(
          `expected one ${type}, found ${found.length}: ${custom.map((r) => r.type).join(", ")}`,
        );
      return found[0];
    },
  };
}

/**
 * What @pulumi/command's local.Command does with one of its command lines: /bin/sh -c <line> in `dir`, with
 * `environment` added to the process env. Asynchronous, so servers in this test process keep answering.
 */
export function runLikeLocalCommand(
  line: string,
  cmd: { dir: string; environment: Record<string, string> },
  timeoutMs?: number,
): Promise<RunResult> {
  return runProcess("/bin/sh", ["-c", line], { cwd: cmd.dir, env: cmd.environment, timeoutMs });
}
