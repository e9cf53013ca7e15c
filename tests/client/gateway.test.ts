// The client through the real API-key gateway: this machine's nginx running the config serving/ renders,
// in front of the fake TF Serving.
import path from "node:path";
import { ensureGeneratedTls } from "../../bootstrap/tls/identity";
import { ExitCode } from "../../common/errors";
import { type HostGateway, startHostGateway } from "../../scripts/harness/host-nginx";
import { type FakeServing, startFakeTfServing } from "../helpers/fake-tf-serving";
import { runOdapi } from "../helpers/run";
import { makeTempDir, removeDir, tempDirPerTest } from "../helpers/tmp";
import { ROOT, runClient } from "./run-client";

const KEY = "gateway-key-0123456789abcdef";
const LIMIT = 64 * 1024; // below the astronaut's 89 KiB of JSON, above chelsea's 46 KiB

let fake: FakeServing;
const tmp = tempDirPerTest("odapi-client-gw-");
let gateway: HostGateway;
let url: string;

beforeAll(async () => {
  fake = await startFakeTfServing({ models: ["ssd_mobilenet_v2"] });
  gateway = await startHostGateway({ apiKey: KEY, upstream: `127.0.0.1:${fake.port}`, maxBodyBytes: LIMIT });
  url = `http://127.0.0.1:${gateway.port}`;
});
afterAll(async () => {
  await gateway?.stop();
  await fake?.close();
});
beforeEach(() => {
  fake.requests.length = 0;
});

const chelsea = path.join(ROOT, "samples/chelsea.jpg");

it("without the key: the gateway's 401 message and exit code 4, nothing reaches TF Serving", async () => {
  const r = await runClient(["--url", url, "--image", chelsea, "--out", tmp()]);
  expect(r.code).toBe(ExitCode.auth);
  expect(r.stderr.split("\n")[0]).toBe(
    `error: ${url} answered 401 (missing or wrong API key): missing or wrong API key: send it in the X-API-Key header`,
  );
  expect(fake.requests).toEqual([]);
});

it("with ODAPI_API_KEY: detections pass through, and the key is not forwarded to TF Serving", async () => {
  const r = await runClient(["--url", url, "--image", chelsea, "--out", tmp(), "--json"], {
    env: { ODAPI_API_KEY: KEY },
  });
  expect(r.code).toBe(0);
  const doc = JSON.parse(r.stdout);
  expect(doc.models[0].images[0].detections.map((d: { label: string }) => d.label)).toEqual([
    "person",
    "dog",
  ]);
  expect(fake.requests.map((q) => q.path)).toEqual([
    "/v1/models/ssd_mobilenet_v2",
    "/v1/models/ssd_mobilenet_v2/metadata",
    "/v1/models/ssd_mobilenet_v2:predict",
  ]);
  expect(fake.requests.map((q) => q.apiKey)).toEqual([undefined, undefined, undefined]);
});

it("a picture over the gateway's body limit: 413 as a bad request", async () => {
  const r = await runClient(["--url", url, "--out", tmp()], { env: { ODAPI_API_KEY: KEY } });
  expect(r.code).toBe(ExitCode.badRequest);
  // Named by its file (the run would go on with other images).
  expect(r.stderr.split("\n")[0]).toBe(
    `error: samples/astronaut.jpg: ${url} refused the request body as too large (413): request body larger than ${LIMIT} bytes`,
  );
  expect(r.stderr).toContain("maxBodyBytes");
});

it("an unknown model: the gateway passes TF Serving's 404 through", async () => {
  const r = await runClient(["--url", url, "--model", "nope", "--out", tmp()], {
    env: { ODAPI_API_KEY: KEY },
  });
  expect(r.code).toBe(ExitCode.notFound);
  expect(r.stderr.split("\n")[0]).toBe(
    `error: model "nope" not found on ${url} (404): Could not find any versions of model nope`,
  );
});

describe("over HTTPS: the client verifies the gateway with --ca-cert, and never without a CA it trusts", () => {
  let tlsGateway: HostGateway;
  let certs: string;
  let caFile: string;
  let otherCaFile: string;
  let httpsUrl: string;

  beforeAll(async () => {
    certs = makeTempDir("odapi-client-tls-");
    caFile = ensureGeneratedTls("127.0.0.1", path.join(certs, "own")).caFile;
    otherCaFile = ensureGeneratedTls("127.0.0.1", path.join(certs, "other")).caFile;
    tlsGateway = await startHostGateway({
      apiKey: KEY,
      upstream: `127.0.0.1:${fake.port}`,
      maxBodyBytes: LIMIT,
      tls: {
        certFile: path.join(certs, "own", "server.crt"),
        keyFile: path.join(certs, "own", "server.key"),
      },
    });
    httpsUrl = `https://127.0.0.1:${tlsGateway.port}`;
  });
  afterAll(async () => {
    await tlsGateway?.stop();
    removeDir(certs);
  });

  it("with --ca-cert: detections over TLS (the shim) and a bench run (odapi bench)", async () => {
    const r = await runClient(
      ["--url", httpsUrl, "--ca-cert", caFile, "--image", chelsea, "--out", tmp(), "--json"],
      { env: { ODAPI_API_KEY: KEY } },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(
      JSON.parse(r.stdout).models[0].images[0].detections.map((d: { label: string }) => d.label),
    ).toEqual(["person", "dog"]);
    const bench = await runOdapi(
      [
        "bench",
        "--url",
        httpsUrl,
        "--ca-cert",
        caFile,
        "--image",
        chelsea,
        "--requests",
        "6",
        "--concurrency",
        "2",
        "--out",
        tmp(),
        "--json",
      ],
      { env: { ODAPI_API_KEY: KEY, NO_COLOR: "1" } },
    );
    expect(bench.code).toBe(0);
    const measured = JSON.parse(bench.stdout).models[0].bench;
    expect([measured.requests, measured.ok, measured.errors]).toEqual([6, 6, 0]);
  });

  it("another CA, or no CA: exit 5 naming --ca-cert, and nothing reaches TF Serving", async () => {
    for (const extra of [["--ca-cert", otherCaFile], []]) {
      const r = await runClient(["--url", httpsUrl, ...extra, "--image", chelsea, "--out", tmp()], {
        env: { ODAPI_API_KEY: KEY },
      });
      expect([extra.length, r.code]).toEqual([extra.length, ExitCode.hostKey]);
      expect(r.stderr).toMatch(
        /presented a TLS certificate this client does not trust \(SELF_SIGNED_CERT_IN_CHAIN/,
      );
      expect(r.stderr).toMatch(/fix: pass the CA that signed it with --ca-cert FILE/);
    }
    expect(fake.requests).toEqual([]);
  });

  it("a --ca-cert that is missing or not a certificate: exit 13 naming the file, before any request", async () => {
    const notPem = path.join(certs, "own", "server.key");
    for (const [file, message] of [
      [path.join(certs, "missing.crt"), /cannot read --ca-cert .*missing\.crt: ENOENT/],
      [notPem, /--ca-cert .*server\.key holds no PEM certificate/],
    ] as const) {
      const r = await runClient(["--url", httpsUrl, "--ca-cert", file, "--image", chelsea, "--out", tmp()], {
        env: { ODAPI_API_KEY: KEY },
      });
      expect(r.code).toBe(ExitCode.config);
      expect(r.stderr.split("\n")[0]).toMatch(message);
    }
    expect(fake.requests).toEqual([]);
  });

  it("plain http:// to the TLS port: the gateway's JSON answer names https", async () => {
    const r = await runClient(
      ["--url", `http://127.0.0.1:${tlsGateway.port}`, "--image", chelsea, "--out", tmp()],
      {
        env: { ODAPI_API_KEY: KEY },
      },
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr.split("\n")[0]).toMatch(/speaks HTTPS only: use https:\/\//);
    expect(fake.requests).toEqual([]);
  });
});
