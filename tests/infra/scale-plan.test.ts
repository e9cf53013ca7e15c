// The scale stack's pure decisions (infra/scale/plan.ts): what the mocks over the stack file do not reach.

import { vcpusOf } from "../../infra/instance-type";
import {
  acmImportNote,
  albUrl,
  listenerPlan,
  modelsReadPolicy,
  publishCommandLine,
  requestCountResourceLabel,
  scheduledActions,
} from "../../infra/scale/plan";

test("the resource label is app/<lb>/<id>/targetgroup/<tg>/<id>; anything else is refused", () => {
  expect(requestCountResourceLabel("app/lb/50dc6c495c0c9188", "targetgroup/tg/73e2d6bc24d8a067")).toBe(
    "app/lb/50dc6c495c0c9188/targetgroup/tg/73e2d6bc24d8a067",
  );
  expect(() => requestCountResourceLabel("net/lb/1", "targetgroup/tg/2")).toThrow(
    /expected app\/<name>\/<id>/,
  );
  expect(() => requestCountResourceLabel("app/lb/1", "arn:aws:elasticloadbalancing:x")).toThrow(
    /targetgroup/,
  );
});

test("publish: local models are published too, --prune passed on; without catalog models nothing is prepared", () => {
  expect(
    publishCommandLine({
      bucket: "b",
      catalog: [],
      version: 1,
      preparedDir: ".odapi/s/models",
      localModelsDir: "/home/me/my models",
      prune: true,
    }),
  ).toBe("node bin/odapi.cjs publish --bucket b --prefix odapi --models '/home/me/my models' --prune --json");
  const both = publishCommandLine({
    bucket: "b",
    catalog: ["ssd_mobilenet_v2", "efficientdet_d0"],
    version: 2,
    preparedDir: ".odapi/s/models",
    localModelsDir: "/m",
    prune: false,
  });
  expect(both.split(" && ")).toEqual([
    "node bin/odapi.cjs prepare --catalog ssd_mobilenet_v2 --catalog efficientdet_d0 --out .odapi/s/models --version 2 --if-exists skip --json",
    "node bin/odapi.cjs publish --bucket b --prefix odapi --models .odapi/s/models --json",
    "node bin/odapi.cjs publish --bucket b --prefix odapi --models /m --json",
  ]);
});

test("no scheduled action unless both crons are set", () => {
  const base = { minReplicas: 2, maxReplicas: 5 };
  expect(scheduledActions({ ...base, scaleToZeroCron: "0 20 * * *" })).toEqual([]);
  expect(scheduledActions(base)).toEqual([]);
  expect(scheduledActions({ ...base, scaleToZeroCron: "0 20 * * *", scaleUpCron: "0 7 * * *" })).toHaveLength(
    2,
  );
});

test("the replicas' role reads objects only under the prefix and lists only the prefix", () => {
  const doc = JSON.parse(modelsReadPolicy("arn:aws:s3:::bkt", "odapi"));
  expect(doc.Statement).toEqual([
    expect.objectContaining({
      Action: "s3:ListBucket",
      Resource: "arn:aws:s3:::bkt",
      Condition: { StringLike: { "s3:prefix": ["odapi/*"] } },
    }),
    expect.objectContaining({ Action: "s3:GetObject", Resource: "arn:aws:s3:::bkt/odapi/*" }),
  ]);
  expect(JSON.stringify(doc)).not.toMatch(/Put|Delete|"s3:\*"/);
});

test("listener and URL: HTTPS on 443 by default, HTTP on 80 as the opt-out", () => {
  expect(albUrl("lb.example", listenerPlan(false))).toBe("https://lb.example");
  expect(albUrl("lb.example", listenerPlan(true))).toBe("http://lb.example");
});

test("vCPUs by size, for the Learner Lab vCPU guard", () => {
  expect(
    ["t3.nano", "t3.large", "c5.xlarge", "c5.4xlarge", "g4dn.xlarge", "m5.metal", "nope"].map(vcpusOf),
  ).toEqual([2, 2, 4, 16, 4, 96, 0]);
});

test("Learner Lab with the generated certificate: the ACM import's way out is said first; not otherwise", () => {
  const note = acmImportNote({ learnerLab: true, httpListener: false });
  expect(note).toMatch(/may refuse/);
  expect(note).toContain("pulumi config set odapi:acmCertificateArn");
  expect(note).toContain("pulumi config set odapi:httpListener true");
  expect(acmImportNote({ learnerLab: false, httpListener: false })).toBeUndefined();
  expect(acmImportNote({ learnerLab: true, httpListener: true })).toBeUndefined();
  expect(
    acmImportNote({ learnerLab: true, httpListener: false, acmCertificateArn: "arn:aws:acm:x" }),
  ).toBeUndefined();
});
