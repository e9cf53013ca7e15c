// The real program (index.ts) on the real Pulumi.scale.yaml under Pulumi mocks: the bucket, the publish step, the
// load balancer, the replica group and the readiness proof with every security and rollout property, what the
// Learner Lab guards refuse (one test per rule, with its message), and the outputs the client reads.
import { gunzipSync } from "node:zlib";
import { parseStackOutputs } from "../../client/stack";
import { modelsReadPolicy, readinessCommandLine } from "../../infra/scale/plan";
import { renderReplicaUserData } from "../../serving/replica-user-data";
import {
  ALB_ARN_SUFFIX,
  ALB_DNS,
  API_KEY,
  DEFAULT_SUBNETS,
  DEFAULT_VPC,
  DEFAULT_VPC_CIDR,
  DEPLOYER_IP,
  FAKE_CA_PEM,
  FAKE_SERVER_PEM,
  type Json,
  MODELS_BUCKET,
  type RecordedResource,
  runStack,
  type StackRun,
  TG_ARN_SUFFIX,
} from "./harness";

const T = {
  bucket: "aws:s3/bucket:Bucket",
  publicAccess: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  versioning: "aws:s3/bucketVersioning:BucketVersioning",
  policy: "aws:s3/bucketPolicy:BucketPolicy",
  template: "aws:ec2/launchTemplate:LaunchTemplate",
  group: "aws:autoscaling/group:Group",
  scaling: "aws:autoscaling/policy:Policy",
  schedule: "aws:autoscaling/schedule:Schedule",
  lb: "aws:lb/loadBalancer:LoadBalancer",
  tg: "aws:lb/targetGroup:TargetGroup",
  listener: "aws:lb/listener:Listener",
  acm: "aws:acm/certificate:Certificate",
  csr: "tls:index/certRequest:CertRequest",
  sg: "aws:ec2/securityGroup:SecurityGroup",
  egress: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
  local: "command:local:Command",
  instance: "aws:ec2/instance:Instance",
  warmPool: "aws:autoscaling/warmPool:WarmPool",
};
const ALB_LABEL = `${ALB_ARN_SUFFIX}/${TG_ARN_SUFFIX}`;
/** A normal AWS account: no lab limits, the stack's own role. */
const NORMAL_ACCOUNT = { "odapi:learnerLab": false, "odapi:instanceProfile": "" };

const scale = (overrides: Record<string, unknown> = {}, subnets?: string[]) =>
  runStack("scale", { overrides, subnets });

function ok(run: StackRun): StackRun {
  if (run.error) throw run.error;
  return run;
}

function named(run: StackRun, type: string, part: string): RecordedResource {
  const found = run.byType(type).filter((r) => r.name.includes(part));
  if (found.length !== 1) throw new Error(`expected one ${type} named *${part}*, found ${found.length}`);
  return found[0];
}

function commandNamed(run: StackRun, part: string): RecordedResource {
  return named(run, T.local, part);
}

describe("scale stack (Pulumi.scale.yaml: Learner Lab, CPU)", () => {
  let r: StackRun;
  beforeAll(async () => {
    r = ok(await scale());
  });

  test("the models bucket is private, encrypted, TLS-only and versioned", () => {
    expect(r.one(T.bucket).inputs.forceDestroy).toBe(true);
    expect(r.one(T.publicAccess).inputs).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    expect(r.one(T.encryption).inputs.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm).toBe(
      "AES256",
    );
    expect(r.one(T.versioning).inputs.versioningConfiguration.status).toBe("Enabled");
    const policy = JSON.parse(r.one(T.policy).inputs.policy);
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [`arn:aws:s3:::${MODELS_BUCKET}`, `arn:aws:s3:::${MODELS_BUCKET}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }),
    ]);
    expect(r.one(T.policy).opts.dependencies).toContain(r.one(T.publicAccess).opts.urn);
  });

  test("odapi publish fills it from a local.Command running the compiled CLI, re-run by the models' content hash", () => {
    const publish = commandNamed(r, "publish");
    expect(publish.inputs.create).toBe(
      "node bin/odapi.cjs prepare --catalog ssd_mobilenet_v2 --out .odapi/scale/models --version 1 --if-exists skip --json" +
        ` && node bin/odapi.cjs publish --bucket ${MODELS_BUCKET} --prefix odapi --models .odapi/scale/models --json`,
    );
    expect(publish.inputs.environment).toEqual({ AWS_REGION: "us-east-1" });
    expect(publish.inputs.triggers[0]).toBe(MODELS_BUCKET);
    expect(publish.inputs.triggers[1]).toMatch(/^[0-9a-f]{64}$/);
    for (const guard of [T.publicAccess, T.encryption, T.versioning, T.policy])
      expect(publish.opts.dependencies).toContain(r.one(guard).opts.urn);
  });

  test("a model change changes the publish trigger; the same models keep it", async () => {
    const hash = (run: StackRun) => commandNamed(run, "publish").inputs.triggers[1];
    const again = ok(await scale());
    const v2 = ok(await scale({ "odapi:modelVersion": 2 }));
    expect(hash(again)).toBe(hash(r));
    expect(hash(v2)).not.toBe(hash(r));
  });

  test("launch template: the looked-up Ubuntu AMI, IMDSv2 with hop limit 1, encrypted gp3, the lab's profile", () => {
    const lt = r.one(T.template).inputs;
    expect(lt.imageId).toBe("ami-0ubuntu000000000");
    expect(lt.instanceType).toBe("t3.large");
    expect(lt.metadataOptions).toEqual({
      httpEndpoint: "enabled",
      httpTokens: "required",
      httpPutResponseHopLimit: 1,
    });
    expect(lt.blockDeviceMappings).toEqual([
      {
        deviceName: "/dev/sda1",
        ebs: {
          volumeType: "gp3",
          volumeSize: expect.any(Number),
          encrypted: "true",
          deleteOnTermination: "true",
        },
      },
    ]);
    expect(lt.iamInstanceProfile).toEqual({ name: "LabInstanceProfile" });
    expect(r.calls.map((c) => c.token)).toContain("aws:ec2/getAmi:getAmi");
  });

  test("its user data is the rendered replica script (gzipped, a secret, under 16 KB) for this bucket and key", () => {
    const lt = r.one(T.template);
    expect(lt.secretInputs).toContain("userData");
    const raw = Buffer.from(lt.inputs.userData, "base64");
    expect(raw.length).toBeLessThan(16 * 1024);
    const script = gunzipSync(raw).toString("utf8");
    expect(script).toBe(
      renderReplicaUserData({
        serving: {
          host: "cpu",
          remoteDir: "/opt/odapi",
          models: [{ name: "ssd_mobilenet_v2" }],
          apiKey: API_KEY,
          trustedProxyCidrs: [DEFAULT_VPC_CIDR],
        },
        sync: { bucket: MODELS_BUCKET, prefix: "odapi", region: "us-east-1" },
      }),
    );
  });

  test("its gateway trusts X-Forwarded-For only from the default VPC's block (the ALB's nodes)", () => {
    const lt = r.one(T.template);
    const script = gunzipSync(Buffer.from(lt.inputs.userData, "base64")).toString("utf8");
    expect(script).toContain(`  set_real_ip_from ${DEFAULT_VPC_CIDR};\n  real_ip_header X-Forwarded-For;\n`);
    expect(script.match(/set_real_ip_from /g)).toHaveLength(1);
  });

  test("the group spans the default VPC's subnets, ELB health checks, a grace period above a first boot", () => {
    const g = r.one(T.group);
    expect(g.inputs.vpcZoneIdentifiers).toEqual(DEFAULT_SUBNETS);
    expect(g.inputs.healthCheckType).toBe("ELB");
    expect(g.inputs.healthCheckGracePeriod).toBeGreaterThanOrEqual(600);
    expect([g.inputs.minSize, g.inputs.maxSize]).toEqual([2, 4]);
    expect(g.inputs.targetGroupArns).toEqual([expect.stringContaining(TG_ARN_SUFFIX)]);
    expect(g.inputs.warmPool).toBeUndefined();
    expect(r.byType(T.warmPool)).toEqual([]);
    const subnetsCall = r.calls.find((c) => c.token === "aws:ec2/getSubnets:getSubnets");
    expect(subnetsCall?.inputs.filters).toEqual(
      expect.arrayContaining([
        { name: "vpc-id", values: [DEFAULT_VPC] },
        { name: "default-for-az", values: ["true"] },
      ]),
    );
  });

  test("no replica boots before the models are published", () => {
    expect(r.one(T.group).opts.dependencies).toContain(commandNamed(r, "publish").opts.urn);
  });

  test("a later pulumi up does not reset the desired capacity scaling chose", () => {
    const g = r.one(T.group);
    expect(g.inputs.desiredCapacity).toBe(2);
    expect(g.opts.ignoreChanges).toEqual(["desiredCapacity"]);
  });

  test("template changes roll out by instance refresh pinned to latestVersion (never $Latest), min healthy 50 %", () => {
    const g = r.one(T.group).inputs;
    expect(g.launchTemplate).toEqual({ id: expect.any(String), version: "3" });
    expect(g.instanceRefresh).toMatchObject({
      strategy: "Rolling",
      preferences: { minHealthyPercentage: 50 },
    });
  });

  test("target tracking on ALBRequestCountPerTarget with the app/…/targetgroup/… resource label", () => {
    const p = r.one(T.scaling).inputs;
    expect(p.policyType).toBe("TargetTrackingScaling");
    expect(p.targetTrackingConfiguration).toEqual({
      predefinedMetricSpecification: {
        predefinedMetricType: "ALBRequestCountPerTarget",
        resourceLabel: ALB_LABEL,
      },
      targetValue: 280,
    });
  });

  test("the target group checks the keyless /healthz on the gateway port and wants a 200", () => {
    const tg = r.one(T.tg).inputs;
    expect(tg).toMatchObject({ port: 8501, protocol: "HTTP", vpcId: DEFAULT_VPC });
    expect(tg.healthCheck).toMatchObject({ path: "/healthz", matcher: "200", protocol: "HTTP" });
    expect(r.one(T.lb).inputs).toMatchObject({
      loadBalancerType: "application",
      internal: false,
      subnets: DEFAULT_SUBNETS,
      dropInvalidHeaderFields: true,
    });
  });

  test("HTTPS listener with the stack's certificate for the ALB's DNS name, imported into ACM", () => {
    const csr = r.byType(T.csr);
    expect(csr).toHaveLength(1);
    expect(csr[0].inputs.dnsNames).toEqual([ALB_DNS]);
    const acm = r.one(T.acm);
    expect(acm.inputs).toMatchObject({ certificateBody: FAKE_SERVER_PEM, certificateChain: FAKE_CA_PEM });
    expect(acm.secretInputs).toContain("privateKey");
    const l = r.one(T.listener).inputs;
    expect(l).toMatchObject({
      port: 443,
      protocol: "HTTPS",
      sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
      certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/imported-0001",
    });
    expect(l.defaultActions).toEqual([expect.objectContaining({ type: "forward" })]);
  });

  test("security groups: the ALB from the deployer only; instances take 8501 from the ALB's group only, SSH from allowedCidrs", () => {
    const alb = named(r, T.sg, "alb-sg").inputs;
    expect(alb.ingress).toEqual([
      expect.objectContaining({
        fromPort: 443,
        toPort: 443,
        cidrBlocks: [`${DEPLOYER_IP}/32`],
        ipv6CidrBlocks: [],
      }),
    ]);
    const inst = named(r, T.sg, "instance-sg").inputs;
    const byPort = (port: number) =>
      (inst.ingress as Json[]).filter((x) => x.fromPort <= port && port <= x.toPort);
    expect(byPort(22)).toEqual([expect.objectContaining({ cidrBlocks: [`${DEPLOYER_IP}/32`] })]);
    expect(byPort(8501)).toEqual([expect.objectContaining({ securityGroups: ["odapi-firewall-alb-sg-id"] })]);
    expect(byPort(8501)[0].cidrBlocks).toBeUndefined();
    expect(byPort(8500)).toEqual([]);
    expect(r.one(T.egress).inputs).toMatchObject({
      securityGroupId: "odapi-firewall-alb-sg-id",
      referencedSecurityGroupId: "odapi-firewall-instance-sg-id",
      fromPort: 8501,
      toPort: 8501,
    });
  });

  test("Learner Lab: no IAM resources, no warm pool, no single instance", () => {
    expect(r.resources.filter((x) => x.type.startsWith("aws:iam/"))).toEqual([]);
    expect(r.byType(T.instance)).toEqual([]);
  });

  test("pulumi up returns only after a real detection per model through the ALB (TLS with the stack's CA, key)", () => {
    const ready = commandNamed(r, "ready");
    expect(ready.inputs.create).toBe(readinessCommandLine(`https://${ALB_DNS}`, ["ssd_mobilenet_v2"], true));
    expect(ready.inputs.create).toContain(
      `node bin/odapi.cjs detect --url https://${ALB_DNS} --model ssd_mobilenet_v2 --wait`,
    );
    expect(ready.inputs.environment).toEqual({ ODAPI_API_KEY: API_KEY, ODAPI_CA_PEM: FAKE_CA_PEM });
    // The whole environment travels as a secret (it holds the key).
    expect(ready.secretInputs.filter((p) => "environment.ODAPI_API_KEY".startsWith(p))).not.toEqual([]);
    // The replica group component: Pulumi waits for every resource in it (template, group, policy).
    for (const dep of [r.one("odapi:infra:ReplicaGroup"), r.one(T.listener), commandNamed(r, "publish")])
      expect(ready.opts.dependencies).toContain(dep.opts.urn);
  });

  test("outputs: apiUrl, predictUrls, apiKey (secret), caCertificate, modelsBucket, autoScalingGroup, targetGroupArn", () => {
    expect(r.outputs).toMatchObject({
      apiUrl: `https://${ALB_DNS}`,
      predictUrls: { ssd_mobilenet_v2: `https://${ALB_DNS}/v1/models/ssd_mobilenet_v2:predict` },
      models: ["ssd_mobilenet_v2"],
      apiKey: API_KEY,
      caCertificate: FAKE_CA_PEM,
      modelsBucket: MODELS_BUCKET,
      autoScalingGroup: "odapi-replicas-asg-generated",
      targetGroupArn: expect.stringContaining(TG_ARN_SUFFIX),
    });
    expect(r.secret.apiKey).toBe(true);
    expect(r.outputs.sshCommand).toBeUndefined();
    // odapi detect / bench read them unchanged.
    expect(parseStackOutputs(JSON.stringify(r.outputs), "scale")).toEqual({
      apiUrl: `https://${ALB_DNS}`,
      models: ["ssd_mobilenet_v2"],
      apiKey: API_KEY,
      caCertificate: FAKE_CA_PEM,
    });
  });
});

describe("scale stack variants", () => {
  test("the cost guard: scheduled actions to zero and back to minReplicas", async () => {
    const r = ok(await scale({ "odapi:scaleToZeroCron": "0 20 * * *", "odapi:scaleUpCron": "0 7 * * 1-5" }));
    expect(r.byType(T.schedule).map((s) => s.inputs)).toEqual([
      expect.objectContaining({ recurrence: "0 20 * * *", minSize: 0, maxSize: 0, desiredCapacity: 0 }),
      expect.objectContaining({ recurrence: "0 7 * * 1-5", minSize: 2, maxSize: 4, desiredCapacity: 2 }),
    ]);
    expect(ok(await scale()).byType(T.schedule)).toEqual([]);
  });

  test("a normal account without instanceProfile: a role that can only list and read the model prefix", async () => {
    const r = ok(await scale(NORMAL_ACCOUNT));
    const policy = r.one("aws:iam/rolePolicy:RolePolicy").inputs.policy;
    expect(JSON.parse(policy)).toEqual(
      JSON.parse(modelsReadPolicy(`arn:aws:s3:::${MODELS_BUCKET}`, "odapi")),
    );
    expect(JSON.parse(policy).Statement.map((s: Json) => s.Action)).toEqual([
      "s3:ListBucket",
      "s3:GetObject",
    ]);
    expect(JSON.parse(r.one("aws:iam/role:Role").inputs.assumeRolePolicy).Statement[0].Principal).toEqual({
      Service: "ec2.amazonaws.com",
    });
    expect(r.one(T.template).inputs.iamInstanceProfile).toEqual({ name: "odapi-replica-profile-generated" });
  });

  test("gpu on a normal account: g4dn on the Deep Learning AMI, the GPU image in the user data", async () => {
    const r = ok(await scale({ ...NORMAL_ACCOUNT, "odapi:gpu": true, "odapi:instanceType": "g4dn.xlarge" }));
    const lt = r.one(T.template).inputs;
    expect(lt.imageId).toBe("ami-0dlami0000000000");
    expect(lt.instanceType).toBe("g4dn.xlarge");
    const script = gunzipSync(Buffer.from(lt.userData, "base64")).toString("utf8");
    expect(script).toMatch(/tensorflow\/serving:[\d.]+-gpu/);
    expect(script).toContain("--gpus");
  });

  test("a given ACM certificate ARN: no generated certificate, no caCertificate output", async () => {
    const arn = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-000000000000";
    const r = ok(await scale({ "odapi:acmCertificateArn": arn }));
    expect(r.byType(T.acm)).toEqual([]);
    expect(r.byType(T.csr)).toEqual([]);
    expect(r.one(T.listener).inputs).toMatchObject({ protocol: "HTTPS", certificateArn: arn });
    expect(r.outputs.caCertificate).toBeUndefined();
    expect(commandNamed(r, "ready").inputs.environment.ODAPI_CA_PEM).toBeUndefined();
  });

  test("the HTTP opt-out: port 80, no certificate, an http:// apiUrl", async () => {
    const r = ok(await scale({ "odapi:httpListener": true }));
    expect(r.one(T.listener).inputs).toMatchObject({ protocol: "HTTP", port: 80 });
    expect(r.one(T.listener).inputs.certificateArn).toBeUndefined();
    expect(named(r, T.sg, "alb-sg").inputs.ingress[0]).toMatchObject({ fromPort: 80, toPort: 80 });
    expect(r.outputs.apiUrl).toBe(`http://${ALB_DNS}`);
    expect(commandNamed(r, "ready").inputs.create).not.toContain("NODE_EXTRA_CA_CERTS");
  });

  test("a warm pool on a normal account keeps stopped instances", async () => {
    const r = ok(await scale({ ...NORMAL_ACCOUNT, "odapi:warmPool": true }));
    expect(r.one(T.group).inputs.warmPool).toEqual({ poolState: "Stopped", minSize: 1 });
  });

  test("fewer than two availability zones with default subnets is refused before anything is created", async () => {
    const r = await scale({}, ["subnet-0aaa"]);
    expect((r.error as Error).message).toMatch(
      /default subnets in 1 availability zone\(s\) offering t3\.large; the load balancer and the group need 2/,
    );
    expect(
      r.resources.filter(
        (x) => !x.type.startsWith("odapi:") && x.type !== "random:index/randomPassword:RandomPassword",
      ),
    ).toEqual([]);
  });
});

describe("Learner Lab guards on the scale stack (one per rule, nothing created)", () => {
  async function refused(overrides: Record<string, unknown>): Promise<string> {
    const r = await scale(overrides);
    expect(r.error).toBeDefined();
    expect(r.resources.filter((x) => x.type.startsWith("aws:"))).toEqual([]);
    return (r.error as Error).message;
  }

  test("sizes: nano…large only", async () => {
    expect(await refused({ "odapi:instanceType": "m5.xlarge" })).toMatch(
      /odapi:instanceType = "m5.xlarge": Learner Lab allows instance sizes nano, micro, small, medium and large only/,
    );
  });

  test("maxReplicas plus the refresh/rebalance spare within 9 instances", async () => {
    expect(await refused({ "odapi:maxReplicas": 9 })).toMatch(
      /odapi:maxReplicas = 9: plus the 1 spare instance that rebalancing and instance refresh may start exceeds Learner Lab's 9 running instances/,
    );
  });

  test("maxReplicas plus the spare within 32 vCPU: 3 × 16 = 48 is refused", async () => {
    expect(await refused({ "odapi:instanceType": "c5.4xlarge", "odapi:maxReplicas": 2 })).toMatch(
      /odapi:maxReplicas = 2: plus 1 spare, × 16 vCPU of c5\.4xlarge, is 48 vCPU: above Learner Lab's 32/,
    );
  });

  test("maxReplicas plus the spare within 32 vCPU: 2 × 16 = 32 is not (only the size rule speaks)", async () => {
    const boundary = await refused({
      "odapi:instanceType": "c5.4xlarge",
      "odapi:minReplicas": 1,
      "odapi:maxReplicas": 1,
    });
    expect(boundary).toMatch(/Learner Lab allows instance sizes/);
    expect(boundary).not.toMatch(/vCPU/);
  });

  test("no IAM resources: an empty instanceProfile is refused", async () => {
    expect(await refused({ "odapi:instanceProfile": "" })).toMatch(
      /odapi:instanceProfile = "": is empty, so the stack would create an IAM role, which Learner Lab forbids[\s\S]*LabInstanceProfile/,
    );
  });

  test("regions: us-east-1 and us-west-2 only", async () => {
    expect(await refused({ "aws:region": "eu-west-1" })).toMatch(
      /aws:region = "eu-west-1": Learner Lab allows only us-east-1 and us-west-2/,
    );
  });

  test("no GPU", async () => {
    expect(await refused({ "odapi:gpu": true })).toMatch(
      /odapi:gpu = true: Learner Lab has no GPU instances/,
    );
  });

  test("no warm pools", async () => {
    expect(await refused({ "odapi:warmPool": true })).toMatch(
      /odapi:warmPool = true: Learner Lab stops and starts instances with the session, which fights a warm pool/,
    );
  });

  test("volumes up to 100 GB", async () => {
    expect(await refused({ "odapi:volumeSizeGb": 200 })).toMatch(
      /odapi:volumeSizeGb = 200: Learner Lab allows EBS volumes up to 100 GB/,
    );
  });
});
