// The gateway's keyless /healthz: a real nginx (rendered config + Lua) in front of the fake TF Serving whose
// versions go LOADING → AVAILABLE, as a load balancer's health check sees them.
import http from "node:http";
import { type HostGateway, hostGatewayParams, startHostGateway } from "../../scripts/harness/host-nginx";
import { renderGatewayConfig } from "../../serving";
import { HEALTH_PATH } from "../../serving/constants";
import { gatewayParamsForDocker } from "../../serving/gateway";
import { type FakeServing, startFakeTfServing } from "../helpers/fake-tf-serving";

const KEY = "health-key-0123456789abcdef0123456789";

function get(
  port: number,
  path: string,
  opts: { key?: string; method?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = opts.key === undefined ? {} : { "X-API-Key": opts.key };
    const req = http.request(
      { host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("rendered /healthz", () => {
  const config = renderGatewayConfig(
    gatewayParamsForDocker({
      host: "cpu",
      remoteDir: "/opt/odapi",
      models: [{ name: "ssd" }, { name: "retina.v1" }],
      apiKey: KEY,
    }),
  );

  test("is the exported path, rewritten before the key check, to an internal location with the model names", () => {
    expect(HEALTH_PATH).toBe("/healthz");
    const rewrite = config.indexOf("rewrite ^/healthz\\z /.odapi/healthz break;");
    expect(rewrite).toBeGreaterThan(0);
    expect(rewrite).toBeLessThan(config.indexOf("$http_x_api_key"));
    expect(config).toContain(
      'location = /.odapi/healthz {\n      internal;\n      content_by_lua_block {\n        odapi.healthz({ "ssd", "retina.v1" })',
    );
  });

  test("refuses a model name that could break out of the nginx string", () => {
    const params = hostGatewayParams("/tmp/x", {
      apiKey: KEY,
      listenPort: 1,
      upstream: "127.0.0.1:2",
      maxBodyBytes: 1024,
      models: ['m"; }'],
    });
    expect(() => renderGatewayConfig(params)).toThrow(/model name .* is not allowed/);
  });
});

describe("a real nginx gateway's /healthz in front of a fake TF Serving", () => {
  let fake: FakeServing;
  let gateway: HostGateway;

  beforeAll(async () => {
    fake = await startFakeTfServing({
      models: [
        { name: "a", state: "LOADING" },
        { name: "b", state: "AVAILABLE" },
      ],
    });
    gateway = await startHostGateway({
      apiKey: KEY,
      upstream: `127.0.0.1:${fake.port}`,
      maxBodyBytes: 1024,
      models: ["a", "b"],
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    await fake?.close();
  });

  beforeEach(() => {
    fake.setVersions("a", [{ version: 1, state: "LOADING" }]);
    fake.setVersions("b", [{ version: 1, state: "AVAILABLE" }]);
    fake.requests.length = 0;
  });

  test("without a key: 503 naming only the models not ready, while TF Serving's status says 200 LOADING", async () => {
    expect((await get(fake.port, "/v1/models/a")).status).toBe(200);
    fake.requests.length = 0;
    const r = await get(gateway.port, "/healthz");
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toEqual({ status: "not ready", notReady: ["a"] });
    // One status GET per model, nothing else, and no key passed on.
    expect(fake.requests.map((q) => `${q.method} ${q.path}`).sort()).toEqual([
      "GET /v1/models/a",
      "GET /v1/models/b",
    ]);
    expect(fake.requests.every((q) => q.apiKey === undefined)).toBe(true);
  });

  test("LOADING → AVAILABLE turns it 200 with nothing but the readiness", async () => {
    fake.setVersions("a", [{ version: 1, state: "AVAILABLE" }]);
    const r = await get(gateway.port, "/healthz");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ status: "ready" });
    expect((await get(gateway.port, "/healthz", { method: "HEAD" })).status).toBe(200);
  });

  test("a new version LOADING beside an AVAILABLE one stays ready; only END versions are not", async () => {
    fake.setVersions("a", [
      { version: 2, state: "LOADING" },
      { version: 1, state: "AVAILABLE" },
    ]);
    expect((await get(gateway.port, "/healthz")).status).toBe(200);
    fake.setVersions("b", [{ version: 1, state: "END" }]);
    const r = await get(gateway.port, "/healthz");
    expect([r.status, JSON.parse(r.body)]).toEqual([503, { status: "not ready", notReady: ["b"] }]);
  });

  test("keyless only at /healthz: neighbours and the internal location still need the key", async () => {
    for (const path of [
      "/healthz/",
      "/healthzz",
      "/healthz/../v1/models/a",
      "/.odapi/healthz",
      "/v1/models/a",
    ]) {
      expect([path, (await get(gateway.port, path)).status]).toEqual([path, 401]);
    }
    expect((await get(gateway.port, "/.odapi/healthz", { key: KEY })).status).toBe(404);
    // The status subrequests' location skips the key only for subrequests of /healthz, and is internal.
    expect((await get(gateway.port, "/.odapi/healthz/v1/models/a")).status).toBe(401);
    expect((await get(gateway.port, "/.odapi/healthz/v1/models/a", { key: KEY })).status).toBe(404);
    expect(fake.requests).toEqual([]);
    expect((await get(gateway.port, "/healthz?verbose=1")).status).toBe(503);
    const post = await get(gateway.port, "/healthz", { method: "POST" });
    expect([post.status, JSON.parse(post.body)]).toEqual([405, { error: "use GET for /healthz" }]);
  });
});

describe("/healthz when TF Serving is down, with no models, and under the rate limit", () => {
  const gateways: HostGateway[] = [];
  afterAll(async () => {
    for (const g of gateways) await g.stop();
  });

  test("TF Serving unreachable → 503 naming every model", async () => {
    const fake = await startFakeTfServing({ models: ["a"] });
    const port = fake.port;
    await fake.close();
    const g = await startHostGateway({
      apiKey: KEY,
      upstream: `127.0.0.1:${port}`,
      maxBodyBytes: 1024,
      models: ["a", "b"],
    });
    gateways.push(g);
    const r = await get(g.port, "/healthz");
    expect([r.status, JSON.parse(r.body)]).toEqual([503, { status: "not ready", notReady: ["a", "b"] }]);
  });

  test("a gateway that serves no model is not ready", async () => {
    const fake = await startFakeTfServing({ models: ["a"] });
    const g = await startHostGateway({ apiKey: KEY, upstream: `127.0.0.1:${fake.port}`, maxBodyBytes: 1024 });
    gateways.push(g);
    const r = await get(g.port, "/healthz");
    await fake.close();
    expect([r.status, JSON.parse(r.body)]).toEqual([503, { status: "not ready", notReady: [] }]);
  });

  test("health requests count against the per-address rate limit like keyed ones (429 beyond it)", async () => {
    const fake = await startFakeTfServing({ models: ["a"] });
    const g = await startHostGateway({
      apiKey: KEY,
      upstream: `127.0.0.1:${fake.port}`,
      maxBodyBytes: 1024,
      models: ["a"],
      limits: { requestsPerSecond: 1, requestBurst: 2 },
    });
    gateways.push(g);
    const statuses = await Promise.all(Array.from({ length: 12 }, () => get(g.port, "/healthz")));
    await fake.close();
    const counts = statuses.map((s) => s.status);
    expect(counts.filter((s) => s === 429).length).toBeGreaterThanOrEqual(8);
    expect(counts.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    // Refused health checks never reach TF Serving.
    expect(fake.requests.length).toBe(counts.filter((s) => s === 200).length);
  });
});
