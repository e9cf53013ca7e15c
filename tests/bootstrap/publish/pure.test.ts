// The publish engine's pure parts: S3 error mapping, the upload plan, the key layout and the manifest text.

import { createHash } from "node:crypto";
import { s3SettingsFromEnv } from "../../../bootstrap/publish/client";
import { s3Error } from "../../../bootstrap/publish/errors";
import { createLimiter } from "../../../bootstrap/publish/limit";
import {
  asVersion,
  hashOrder,
  pickVersion,
  planManifests,
  splitBySha256,
  triage,
  versionPrefixes,
} from "../../../bootstrap/publish/plan";
import { crc32Base64, partRanges } from "../../../bootstrap/publish/upload";
import type { BundleFile } from "../../../bootstrap/transfer";
import { ExitCode, OdapiError } from "../../../common/errors";
import {
  manifestKey,
  normalizePrefix,
  parseManifestKey,
  renderManifest,
} from "../../../serving/bucket-layout";

const where = { bucket: "b1", region: "us-east-1" };
const sdkError = (name: string, status: number, extra: object = {}) =>
  Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode: status } }, extra);

describe("s3Error", () => {
  it.each([
    [sdkError("ExpiredToken", 400), ExitCode.auth, "the AWS session credentials have expired (ExpiredToken)"],
    [sdkError("NoSuchBucket", 404), ExitCode.notFound, "bucket s3://b1 does not exist"],
    [sdkError("AccessDenied", 403), ExitCode.auth, "access denied to s3://b1 (AccessDenied)"],
    [
      sdkError("InvalidAccessKeyId", 403),
      ExitCode.auth,
      "S3 rejected the AWS credentials (InvalidAccessKeyId)",
    ],
    [
      sdkError("AuthorizationHeaderMalformed", 400, { Region: "eu-west-1" }),
      ExitCode.config,
      "bucket s3://b1 is not in region us-east-1 (the bucket is in eu-west-1)",
    ],
    [sdkError("PermanentRedirect", 301), ExitCode.config, "bucket s3://b1 is not in region us-east-1"],
    [
      Object.assign(new Error("Could not load credentials from any providers"), {
        name: "CredentialsProviderError",
      }),
      ExitCode.auth,
      "no AWS credentials found",
    ],
    [
      Object.assign(new AggregateError([Object.assign(new Error("x"), { code: "ECONNREFUSED" })]), {
        code: undefined,
      }),
      ExitCode.unreachable,
      "cannot reach S3 in us-east-1 (ECONNREFUSED)",
    ],
    [
      sdkError("InternalError", 500),
      ExitCode.serverError,
      "S3 request failed: InternalError message (HTTP 500)",
    ],
  ])("%p → exit %p", (err, code, message) => {
    const e = s3Error(err, where);
    expect(e.exitCode).toBe(code);
    expect(e.message).toContain(message);
    expect(e.remedy.length).toBeGreaterThan(10);
  });

  it("names the region to export when S3 tells it", () => {
    expect(
      s3Error(sdkError("AuthorizationHeaderMalformed", 400, { Region: "us-west-2" }), where).remedy,
    ).toContain("export AWS_REGION=us-west-2");
  });
});

const file = (relPath: string, sha256: string, size = 10): BundleFile => ({
  relPath,
  sha256,
  size,
  mode: 0o644,
});

describe("the upload plan: triage, splitBySha256, planManifests", () => {
  const files = [
    file("models/a/1/saved_model.pb", "1".repeat(64)),
    file("models/a/1/v/x", "2".repeat(64), 5),
  ];

  it("sends keys the listing lacks or holds at another size without a HEAD; checks only same-size keys", () => {
    const { send, check } = triage(
      "p",
      [...files, file("models/a/1/v/new", "3".repeat(64), 7)],
      new Map([
        ["p/models/a/1/saved_model.pb", 10],
        ["p/models/a/1/v/x", 6],
        ["p/models/a/1/v/gone", 7],
      ]),
    );
    expect(check.map((u) => u.key)).toEqual(["p/models/a/1/saved_model.pb"]);
    expect(send.map((u) => u.key)).toEqual(["p/models/a/1/v/x", "p/models/a/1/v/new"]);
    expect(versionPrefixes("p", [...files, file("models/b/3/x", "4".repeat(64))])).toEqual([
      "p/models/a/1/",
      "p/models/b/3/",
    ]);
    expect(hashOrder([file("a", "", 9), file("b", "", 1), file("c", "", 5)]).map((f) => f.relPath)).toEqual([
      "b",
      "c",
      "a",
    ]);
  });

  it("skips only files whose key holds the same sha256, and writes a manifest per version", () => {
    const remote = new Map([
      ["p/models/a/1/saved_model.pb", "1".repeat(64)],
      ["p/models/a/1/v/x", "9".repeat(64)],
    ]);
    const split = splitBySha256(
      files.map((f) => ({ key: `p/${f.relPath}`, file: f, sha256: f.sha256 })),
      remote,
    );
    expect(split.skipped.map((u) => u.key)).toEqual(["p/models/a/1/saved_model.pb"]);
    expect(split.uploads.map((u) => u.key)).toEqual(["p/models/a/1/v/x"]);
    const plan = planManifests("p", files, { prune: false, publishedManifestKeys: [] });
    expect(plan.manifests).toEqual([
      {
        key: "p/manifests/a/1.txt",
        body: `# odapi-manifest 1 a 1\n${"1".repeat(64)} 10 saved_model.pb\n${"2".repeat(64)} 5 v/x\n`,
        unchanged: false,
      },
    ]);
  });

  it("marks a manifest unchanged only when the listed ETag is the MD5 of the same body", () => {
    const body = `# odapi-manifest 1 a 1\n${"1".repeat(64)} 10 saved_model.pb\n${"2".repeat(64)} 5 v/x\n`;
    const md5 = createHash("md5").update(body).digest("hex");
    const plan = (etag: string) =>
      planManifests("p", files, {
        prune: false,
        publishedManifestKeys: ["p/manifests/a/1.txt"],
        publishedManifestMd5: new Map([["p/manifests/a/1.txt", etag]]),
      }).manifests[0]?.unchanged;
    expect(plan(md5)).toBe(true);
    expect(plan(createHash("md5").update(`${body}x`).digest("hex"))).toBe(false);
  });

  it("retires, with prune only, the published versions of these models that are not local", () => {
    const published = [
      "p/manifests/a/1.txt",
      "p/manifests/a/7.txt",
      "p/manifests/other/2.txt",
      "p/manifests/junk",
    ];
    expect(planManifests("p", files, { prune: false, publishedManifestKeys: published }).retire).toEqual([]);
    expect(planManifests("p", files, { prune: true, publishedManifestKeys: published }).retire).toEqual([
      { model: "a", version: "7", manifestKey: "p/manifests/a/7.txt" },
    ]);
  });
});

describe("pickVersion and asVersion", () => {
  const files = [
    file("models/a/1/saved_model.pb", "1".repeat(64)),
    file("models/a/4/saved_model.pb", "2".repeat(64)),
    file("models/b/4/saved_model.pb", "3".repeat(64)),
    file("models/c/2/v/x", "4".repeat(64)),
  ];

  it("pickVersion keeps only the named models at that version, and names what is missing", () => {
    expect(pickVersion(files, ["a"], 4).map((f) => f.relPath)).toEqual(["models/a/4/saved_model.pb"]);
    expect(() => pickVersion(files, ["a", "c"], 4)).toThrow("no prepared version 4 of c");
  });

  it("asVersion renumbers each model's one version, keeping size and sha256, and refuses two versions", () => {
    const one = files.filter((f) => !f.relPath.startsWith("models/a/1/"));
    expect(asVersion(one, 9).map((f) => [f.relPath, f.sha256])).toEqual([
      ["models/a/9/saved_model.pb", "2".repeat(64)],
      ["models/b/9/saved_model.pb", "3".repeat(64)],
      ["models/c/9/v/x", "4".repeat(64)],
    ]);
    const err = (() => {
      try {
        asVersion(files, 9);
      } catch (e) {
        return e as OdapiError;
      }
    })();
    expect(err?.message).toBe("--version 9 is ambiguous: a has versions 1, 4 in --models");
    expect(err?.exitCode).toBe(ExitCode.usage);
  });
});

describe("layout", () => {
  it("keys with and without a prefix, and parses only manifest keys", () => {
    expect(manifestKey("", "m", "3")).toBe("manifests/m/3.txt");
    expect(manifestKey(normalizePrefix("/team/x/"), "m", "3")).toBe("team/x/manifests/m/3.txt");
    expect(parseManifestKey("team", "team/manifests/m/3.txt")).toEqual({ model: "m", version: "3" });
    expect(parseManifestKey("team", "team/manifests/m/staging.txt")).toBeUndefined();
    expect(parseManifestKey("team", "other/manifests/m/3.txt")).toBeUndefined();
  });

  it("rejects prefixes with '..' or empty segments", () => {
    expect(() => normalizePrefix("a/../b")).toThrow(OdapiError);
    expect(() => normalizePrefix("a//b")).toThrow("is not a usable key prefix");
  });

  it("renders a manifest sorted by path", () => {
    expect(
      renderManifest({
        model: "m",
        version: "2",
        files: [
          { path: "z", size: 1, sha256: "b" },
          { path: "a", size: 2, sha256: "c" },
        ],
      }),
    ).toBe("# odapi-manifest 1 m 2\nc 2 a\nb 1 z\n");
  });
});

describe("s3SettingsFromEnv", () => {
  it("uses AWS_REGION (then AWS_DEFAULT_REGION) and path-style for AWS_ENDPOINT_URL", () => {
    expect(s3SettingsFromEnv({ AWS_REGION: "us-west-2" })).toEqual({
      region: "us-west-2",
      forcePathStyle: false,
    });
    expect(
      s3SettingsFromEnv({ AWS_DEFAULT_REGION: "eu-west-1", AWS_ENDPOINT_URL: "http://127.0.0.1:9000" }),
    ).toEqual({
      region: "eu-west-1",
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
    });
  });

  it("rejects a missing region and a non-URL endpoint", () => {
    expect(() => s3SettingsFromEnv({})).toThrow("no AWS region set");
    expect(() => s3SettingsFromEnv({ AWS_REGION: "x", AWS_ENDPOINT_URL: "localhost:9000" })).toThrow(
      "is not an http(s) URL",
    );
  });
});

describe("crc32Base64", () => {
  it('is the CRC-32 check value of "123456789" (0xCBF43926), big-endian in base64, as x-amz-checksum-crc32 wants', () => {
    expect(crc32Base64(Buffer.from("123456789"))).toBe(
      Buffer.from([0xcb, 0xf4, 0x39, 0x26]).toString("base64"),
    );
    expect(crc32Base64(Buffer.alloc(0))).toBe("AAAAAA==");
  });
});

describe("partRanges", () => {
  it("covers every byte once, in part-size ranges, the last one shorter", () => {
    expect(partRanges(10, 4)).toEqual([
      [0, 3],
      [4, 7],
      [8, 9],
    ]);
    expect(partRanges(8, 4)).toEqual([
      [0, 3],
      [4, 7],
    ]);
    expect(partRanges(0, 4)).toEqual([]);
  });
});

describe("createLimiter", () => {
  it("runs at most `limit` at once, hands slots over first come first served, and frees a slot on failure", async () => {
    const slots = createLimiter(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const task = (n: number, fail = false) =>
      slots(async () => {
        running++;
        most = Math.max(most, running);
        order.push(n);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
        if (fail) throw new Error(`task ${n} failed`);
        return n;
      });
    let settled = 0;
    const all = [task(1, true), task(2), task(3), task(4)].map((p) =>
      p.catch((e: Error) => e.message).finally(() => settled++),
    );
    // Bounded: each round opens the gates of whatever runs now, so four rounds finish every task.
    for (let round = 0; round < 10 && settled < 4; round++) {
      await new Promise((r) => setImmediate(r));
      expect(running).toBeLessThanOrEqual(2);
      for (const open of gates.splice(0)) open();
    }
    expect(await Promise.all(all)).toEqual(["task 1 failed", 2, 3, 4]);
    expect(most).toBe(2);
    expect(order).toEqual([1, 2, 3, 4]);
  });
});
