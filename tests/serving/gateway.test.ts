// The API-key gateway: rendered nginx config checked by `nginx -t`, then a real nginx in front of a fake upstream.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import { join } from "node:path";
import type tls from "node:tls";
import { promisify } from "node:util";
import { ensureGeneratedTls, GENERATED_FILES } from "../../bootstrap/tls/identity";
import { getModelStatus, predict } from "../../client/api";
import { ExitCode, OdapiError } from "../../common/errors";
import {
  type HostGateway,
  hostGatewayParams,
  nginxCheck,
  startHostGateway,
} from "../../scripts/harness/host-nginx";
import { type GatewayParams, renderGatewayConfig } from "../../serving";
import { type GatewayLimits, gatewayParamsForDocker, validateTrustedProxyCidrs } from "../../serving/gateway";
import { REFUSED_BODY_LINGER_SECONDS } from "../../serving/gateway-body";
import { makeTempDir, removeDir, tempDirPerTest } from "../helpers/tmp";
import { type DnsStub, startDnsStub } from "./dns-stub";

const execFileAsync = promisify(execFile);
const KEY = "test-key-0123456789abcdef0123456789";
const LIMIT = 64 * 1024;

function localParams(dir: string): GatewayParams {
  // Same generator as on the host; only paths, user and addresses suit a root test run.
  return hostGatewayParams(dir, { apiKey: KEY, listenPort: 1, upstream: "127.0.0.1:2", maxBodyBytes: LIMIT });
}

describe("rendered gateway config", () => {
  const config = renderGatewayConfig(
    gatewayParamsForDocker({ host: "cpu", remoteDir: "/opt/odapi", models: [{ name: "m" }], apiKey: KEY }),
  );

  test("requires the X-API-Key header to equal the key, before anything else", () => {
    expect(config).toContain(`if ($http_x_api_key != "${KEY}") {\n      return 401 `);
    expect(config.indexOf("$http_x_api_key")).toBeLessThan(config.indexOf("\n    location "));
    expect(config).toContain('proxy_set_header X-API-Key "";');
  });

  test("limits the body to 20 MiB by default and answers 413 as JSON", () => {
    expect(config).toContain("client_max_body_size 20971520;");
    expect(config).toContain("error_page 413 @too_large;");
  });

  test("the predict location reads its body with the Lua reader (120 s in all, 10 s per gap), checks it, then proxies", () => {
    // The devel kit first: ngx_lua needs it loaded; no njs.
    expect(config.indexOf("ndk_http_module.so")).toBeLessThan(config.indexOf("ngx_http_lua_module.so"));
    expect(config).not.toContain("js_");
    const predict = config.slice(config.indexOf(':predict\\z" {'), config.indexOf("# /healthz:"));
    expect(predict).toContain("local deadline = ngx.req.start_time() + 120");
    expect(predict).toContain("math.min(left, 10)");
    expect(predict.indexOf("access_by_lua_block")).toBeLessThan(
      predict.indexOf("odapi.check_predict(finish())"),
    );
    expect(predict.indexOf("odapi.check_predict(finish())")).toBeLessThan(
      predict.indexOf("proxy_pass http://odapi_tf_serving$uri;"),
    );
    // Only the predict location reads bodies this way.
    expect(config.split("access_by_lua_block")).toHaveLength(2);
  });

  test("passes model status/metadata (GET) and :predict (POST) to TF Serving's fixed address, kept alive; 404 otherwise", () => {
    expect(config).toContain(
      'location ~ "^/v1/models/[A-Za-z0-9][A-Za-z0-9_.-]*(/versions/[0-9]+|/labels/[A-Za-z0-9_-]+)?(/metadata)?\\z"',
    );
    expect(config).toContain(
      'location ~ "^/v1/models/[A-Za-z0-9][A-Za-z0-9_.-]*(/versions/[0-9]+|/labels/[A-Za-z0-9_-]+)?:predict\\z"',
    );
    expect(config).toContain(
      "  upstream odapi_tf_serving {\n    server 172.29.85.10:8501;\n    keepalive 32;\n",
    );
    expect(config).toContain("proxy_pass http://odapi_tf_serving$uri;");
    expect(config).not.toContain("resolver");
    // A name looked up through a resolver (e.g. Docker's DNS) goes through a variable instead, without keep-alive.
    const resolved = renderGatewayConfig({
      ...gatewayParamsForDocker({
        host: "cpu",
        remoteDir: "/opt/odapi",
        models: [{ name: "m" }],
        apiKey: KEY,
      }),
      upstream: "odapi-serving:8501",
      resolver: "127.0.0.11",
    });
    expect(resolved).toContain("set $odapi_upstream odapi-serving:8501;");
    expect(resolved).toContain("proxy_pass http://$odapi_upstream$uri;");
    expect(resolved).toContain("resolver 127.0.0.11 valid=10s ipv6=off;");
    expect(resolved).not.toContain("upstream odapi_tf_serving");
    expect(config).toMatch(/location \/ \{\n\s+return 404 /);
    expect(config).toContain("listen 8080;");
    expect(config).toContain("user nginx;");
  });

  test("no trusted proxies (single host): no realip directives, limits key on the peer address", () => {
    expect(config).not.toMatch(/set_real_ip_from|real_ip_header|real_ip_recursive/);
    expect(config).toContain("limit_req_zone $binary_remote_addr zone=odapi_req:10m");
  });

  test("trusted proxies: set_real_ip_from each block, X-Forwarded-For, recursive, before the limit zones", () => {
    const behindLb = renderGatewayConfig(
      gatewayParamsForDocker({
        host: "cpu",
        remoteDir: "/opt/odapi",
        models: [{ name: "m" }],
        apiKey: KEY,
        trustedProxyCidrs: ["172.31.0.0/16", " 2600:1f18::/56"],
      }),
    );
    expect(behindLb).toContain(
      "  set_real_ip_from 172.31.0.0/16;\n  set_real_ip_from 2600:1f18::/56;\n  real_ip_header X-Forwarded-For;\n  real_ip_recursive on;\n",
    );
    expect(behindLb.indexOf("real_ip_recursive on;")).toBeLessThan(behindLb.indexOf("limit_req_zone"));
  });

  test("refuses trusted proxies that are not CIDR blocks or trust the whole internet, naming the value", () => {
    for (const bad of ["172.31.0.0", "172.31.0.0/33", "alb.example.com/16", "10.0.0.0/8; allow all"]) {
      expect(() => validateTrustedProxyCidrs([bad])).toThrow(
        expect.objectContaining({
          message: expect.stringContaining(JSON.stringify(bad)),
          exitCode: ExitCode.config,
        }),
      );
    }
    for (const world of ["0.0.0.0/0", "::/0"]) {
      expect(() => validateTrustedProxyCidrs([world])).toThrow(/trusts every address/);
    }
    expect(() =>
      renderGatewayConfig({ ...localParams("/tmp"), trustedProxyCidrs: ["10.0.0.0/8", "nope"] }),
    ).toThrow(OdapiError);
    expect(validateTrustedProxyCidrs(["10.1.0.0/16", "::1/128"])).toEqual(["10.1.0.0/16", "::1/128"]);
  });

  test("refuses keys that would break out of the nginx string", () => {
    for (const apiKey of ['abcdefghijklmnop"; }', "abcdefghijklmnop$host", "short", "abcdefghijklmnop qr"]) {
      expect(() =>
        renderGatewayConfig({
          ...gatewayParamsForDocker({ host: "cpu", remoteDir: "/o", models: [], apiKey }),
        }),
      ).toThrow(/API key/);
    }
  });
});

describe("nginx -t accepts the rendered config", () => {
  const dir = tempDirPerTest("odapi-gw-t-");

  test("local variant", () => {
    const r = nginxCheck(renderGatewayConfig(localParams(dir())), dir());
    expect(r.output).toBe("");
    expect(r.ok).toBe(true);
  });

  test("the container variant with only user and paths swapped for this machine", () => {
    const params = gatewayParamsForDocker({
      host: "gpu",
      remoteDir: "/o",
      models: [],
      apiKey: KEY,
      maxBodyBytes: 5_000_000,
    });
    // /dev/stdout is the container's log pipe; a jest child has none, so the access log goes to a file.
    const config = renderGatewayConfig({
      ...params,
      user: "root",
      pidFile: join(dir(), "pid"),
      tempDir: dir(),
      accessLog: join(dir(), "access.log"),
    });
    const r = nginxCheck(config, dir());
    expect(r.output).toBe("");
    expect(r.ok).toBe(true);
  });

  test("nginx -t itself catches a broken config (the check can fail)", () => {
    const broken = renderGatewayConfig(localParams(dir())).replace("server_name _;", "server_name _");
    expect(nginxCheck(broken, dir()).ok).toBe(false);
  });
});

/** A predict body of exactly `bytes` bytes: one instance whose base64 fills the rest. */
function predictBody(bytes: number, instances = 1): Buffer {
  const rows = Array.from({ length: instances - 1 }, () => '{"b64":"AAAA"}');
  const head = `{"instances":[${rows.map((r) => `${r},`).join("")}{"b64":"`;
  const tail = '"}]}';
  return Buffer.from(`${head}${"A".repeat(bytes - head.length - tail.length)}${tail}`);
}

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bodyBytes: number;
}

/** A stand-in TF Serving on loopback that records each request and answers `{upstream, url, ...extra}` when told. */
async function recordingUpstream(
  seen: Seen[],
  onRequest: (req: http.IncomingMessage, answer: (extra: object) => void) => void,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    let bodyBytes = 0;
    req.on("data", (c: Buffer) => {
      bodyBytes += c.length;
    });
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, bodyBytes });
      onRequest(req, (extra) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ upstream: true, url: req.url, ...extra }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/** One request; a 413 may arrive while the body is still being sent, so write errors are ignored. */
function request(
  port: number,
  method: string,
  path: string,
  opts: { key?: string; body?: Buffer; headers?: http.OutgoingHttpHeaders } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { "content-type": "application/json", ...opts.headers };
    if (opts.key !== undefined) headers["X-API-Key"] = opts.key;
    if (opts.body) headers["content-length"] = opts.body.length;
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", (err) => {
      if (!req.headersSent) reject(err);
    });
    if (opts.body) req.write(opts.body, () => undefined);
    req.end();
  });
}

describe.each([
  ["fixed upstream, kept-alive connections (as in the container)", false],
  ["upstream through a variable (a name looked up by a resolver)", true],
])("a real nginx gateway in front of a fake TF Serving (%s)", (_name, viaVariable) => {
  let upstream: http.Server;
  let gateway: HostGateway;
  let port: number;
  const seen: Seen[] = [];

  beforeAll(async () => {
    upstream = await recordingUpstream(seen, (_req, answer) => answer({}));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    gateway = await startHostGateway({
      apiKey: KEY,
      upstream: `127.0.0.1:${upstreamPort}`,
      maxBodyBytes: LIMIT,
      // An IP literal needs no lookup, so the resolver is never queried here.
      resolver: viaVariable ? "127.0.0.1" : undefined,
    });
    port = gateway.port;
  });

  afterAll(async () => {
    await gateway?.stop();
    await new Promise((resolve) => upstream.close(resolve));
  });

  beforeEach(() => {
    seen.length = 0;
  });

  test(`predictions ${viaVariable ? "open a connection to TF Serving each" : "reuse a kept-alive connection to TF Serving"}`, async () => {
    let connections = 0;
    const count = () => {
      connections += 1;
    };
    upstream.on("connection", count);
    try {
      for (let i = 0; i < 5; i++) {
        const body = Buffer.from('{"instances": [{"b64": "AAAA"}]}');
        expect((await request(port, "POST", "/v1/models/m:predict", { key: KEY, body })).status).toBe(200);
      }
    } finally {
      upstream.off("connection", count);
    }
    // One worker: at most one new connection (none when an earlier test left one open).
    if (viaVariable) expect(connections).toBe(5);
    else expect(connections).toBeLessThanOrEqual(1);
  });

  test("no key → 401, nothing reaches TF Serving", async () => {
    const r = await request(port, "GET", "/v1/models/ssd_mobilenet_v2");
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body).error).toMatch(/X-API-Key/);
    expect(seen).toEqual([]);
  });

  test("wrong key → 401 (also a key differing only in case)", async () => {
    expect((await request(port, "GET", "/v1/models/m", { key: "wrong-key-0123456789abcdef" })).status).toBe(
      401,
    );
    expect((await request(port, "GET", "/v1/models/m", { key: KEY.toUpperCase() })).status).toBe(401);
    expect(seen).toEqual([]);
  });

  test("right key → status, metadata, versions and labels pass through, key stripped", async () => {
    for (const path of [
      "/v1/models/m",
      "/v1/models/m/metadata",
      "/v1/models/m/versions/2",
      "/v1/models/m/labels/stable/metadata",
    ]) {
      const r = await request(port, "GET", path, { key: KEY });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ upstream: true, url: path });
    }
    expect(seen.map((s) => s.url)).toEqual([
      "/v1/models/m",
      "/v1/models/m/metadata",
      "/v1/models/m/versions/2",
      "/v1/models/m/labels/stable/metadata",
    ]);
    expect(seen.every((s) => s.headers["x-api-key"] === undefined)).toBe(true);
  });

  test("TF Serving gets the normalised path that was checked, never a raw variant", async () => {
    for (const [sent, forwarded] of [
      ["/v1/models//m", "/v1/models/m"],
      ["/v1/models/%6D/metadata", "/v1/models/m/metadata"],
      ["/v1/models/m?debug=1", "/v1/models/m"],
      ["/v1/models/m%2F..%2Fx", "/v1/models/x"],
    ]) {
      const r = await request(port, "GET", sent, { key: KEY });
      expect([sent, r.status, JSON.parse(r.body).url]).toEqual([sent, 200, forwarded]);
    }
    for (const sneaky of [
      "/v1/models/m%0A",
      "/v1/models/m%2F..%2F..%2Fx",
      "/v1/models/m/../../x",
      "/v1/models/m%20x",
    ]) {
      expect([sneaky, (await request(port, "GET", sneaky, { key: KEY })).status]).toEqual([sneaky, 404]);
    }
  });

  test("right key → :predict with a JSON body under the limit passes through whole", async () => {
    const body = predictBody(LIMIT - 1);
    const r = await request(port, "POST", "/v1/models/ssd_mobilenet_v2:predict", { key: KEY, body });
    expect(r.status).toBe(200);
    expect(seen).toEqual([
      expect.objectContaining({
        method: "POST",
        url: "/v1/models/ssd_mobilenet_v2:predict",
        bodyBytes: LIMIT - 1,
      }),
    ]);
  });

  test("body over the limit → 413 as JSON, nothing reaches TF Serving", async () => {
    const r = await request(port, "POST", "/v1/models/m:predict", {
      key: KEY,
      body: Buffer.alloc(LIMIT + 1, "a"),
    });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error).toMatch(/larger than 65536 bytes/);
    expect(seen).toEqual([]);
  });

  test("over the limit without a key → 401: the key is checked first", async () => {
    const r = await request(port, "POST", "/v1/models/m:predict", { body: Buffer.alloc(LIMIT + 1, "a") });
    expect(r.status).toBe(401);
  });

  test("routes TF Serving has but we do not expose → 404; wrong methods → 405", async () => {
    const notFound = [
      ["GET", "/"],
      ["GET", "/monitoring/prometheus/metrics"],
      ["POST", "/v1/models/m:classify"],
      ["POST", "/v1/models/m:regress"],
      ["GET", "/v1/models/-bad"],
      ["GET", "/v1/models/m/versions/x"],
      ["GET", "/v2/models/m"],
    ];
    for (const [method, path] of notFound) {
      const r = await request(port, method, path, { key: KEY });
      expect([method, path, r.status]).toEqual([method, path, 404]);
    }
    expect((await request(port, "GET", "/v1/models/m:predict", { key: KEY })).status).toBe(405);
    expect((await request(port, "DELETE", "/v1/models/m", { key: KEY })).status).toBe(405);
    expect(
      (await request(port, "POST", "/v1/models/m/metadata", { key: KEY, body: Buffer.from("{}") })).status,
    ).toBe(405);
    expect(seen).toEqual([]);
  });

  test("the project's client API agrees with the gateway: header name, 401 → auth, 413 → badRequest", async () => {
    const url = `http://127.0.0.1:${port}`;
    await expect(getModelStatus(url, "m", { apiKey: KEY })).resolves.toEqual({
      upstream: true,
      url: "/v1/models/m",
    });
    const denied = await getModelStatus(url, "m", { apiKey: "not-the-key-0123456789" }).catch((e) => e);
    expect(denied).toBeInstanceOf(OdapiError);
    expect(denied.exitCode).toBe(ExitCode.auth);
    expect(denied.message).toMatch(/missing or wrong API key/);
    const tooBig = await predict(url, "m", "x".repeat(LIMIT + 1), { apiKey: KEY }).catch((e) => e);
    expect(tooBig.exitCode).toBe(ExitCode.badRequest);
    expect(tooBig.message).toMatch(/413.*larger than 65536 bytes/);
  });

  test("nginx logged no errors but the expected body-size refusals", () => {
    const unexpected = gateway
      .log()
      .split("\n")
      .filter(
        (line) =>
          /\[(emerg|alert|crit|error)\]/.test(line) &&
          !line.includes("client intended to send too large body"),
      );
    expect(unexpected).toEqual([]);
  });
});

describe("the resolver variant finds TF Serving by name (Docker's DNS played by a stub)", () => {
  let dns: DnsStub;
  let first: http.Server;
  let second: http.Server;
  let gateway: HostGateway;
  const hits: string[] = [];

  const serve = (label: string) =>
    http.createServer((req, res) => {
      hits.push(label);
      req.resume();
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ served_by: label }));
    });

  beforeAll(async () => {
    first = serve("first");
    await new Promise<void>((resolve) => first.listen(0, "127.0.0.1", resolve));
    const port = (first.address() as AddressInfo).port;
    // The "recreated container": same port, another address (all of 127/8 is loopback).
    second = serve("second");
    await new Promise<void>((resolve) => second.listen(port, "127.0.0.2", resolve));
    dns = await startDnsStub({ "odapi-serving": "127.0.0.1" });
    gateway = await startHostGateway({
      apiKey: KEY,
      upstream: `odapi-serving:${port}`,
      maxBodyBytes: LIMIT,
      resolver: `127.0.0.1:${dns.port}`,
      resolverValidSeconds: 1,
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    await dns?.close();
    await Promise.all([first, second].map((s) => new Promise((resolve) => s.close(resolve))));
  });

  test("looks the name up, follows a new address, and answers 502 as JSON while the name is gone", async () => {
    const get = () => request(gateway.port, "GET", "/v1/models/m", { key: KEY });
    const r1 = await get();
    expect(r1.status).toBe(200);
    expect(JSON.parse(r1.body)).toEqual({ served_by: "first" });
    expect(dns.queries).toContain("odapi-serving");

    dns.records.set("odapi-serving", "127.0.0.2");
    const deadline = Date.now() + 10_000;
    let last = "";
    while (Date.now() < deadline && !last.includes("second")) {
      await new Promise((r) => setTimeout(r, 300));
      last = (await get()).body;
    }
    expect(JSON.parse(last)).toEqual({ served_by: "second" });

    dns.records.delete("odapi-serving");
    let gone = { status: 0, body: "" };
    while (Date.now() < deadline + 5000 && gone.status !== 502) {
      await new Promise((r) => setTimeout(r, 300));
      gone = await get();
    }
    expect(gone.status).toBe(502);
    expect(JSON.parse(gone.body).error).toMatch(/TF Serving is not reachable/);
  });
});

/** Sends raw bytes on a fresh connection; resolves with what came back once the server closes (or after `waitMs`). */
function raw(port: number, text: string, waitMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const s = net.connect(port, "127.0.0.1", () => s.write(text));
    const timer = setTimeout(() => s.destroy(), waitMs);
    s.on("data", (c) => {
      got += c;
    });
    s.on("error", () => undefined);
    s.on("close", () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

/**
 * A keyed predict whose body is trickled: `first` bytes at once, then `step` bytes (default 1) per `intervalMs` until
 * the body ends, an answer arrives or the socket closes (bounded by `giveUpMs`). Times are measured from the connection.
 */
function trickle(
  port: number,
  body: Buffer,
  opts: { first: number; step?: number; intervalMs: number; giveUpMs: number; connectionClose?: boolean },
): Promise<{
  answer: string;
  sentAtAnswer: number;
  answerAfterMs: number;
  closedAfterMs: number;
  gaveUp: boolean;
}> {
  const head = `POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Length: ${body.length}\r\n${opts.connectionClose ? "Connection: close\r\n" : ""}\r\n`;
  return new Promise((resolve) => {
    let answer = "";
    let sent = 0;
    let sentAtAnswer = -1;
    let answerAfterMs = -1;
    let gaveUp = false;
    const t0 = Date.now();
    const s = net.connect(port, "127.0.0.1", () => {
      s.write(head);
      sent = Math.min(opts.first, body.length);
      s.write(body.subarray(0, sent));
    });
    const tick = setInterval(() => {
      if (s.destroyed || sentAtAnswer >= 0 || sent >= body.length) return;
      const next = Math.min(body.length, sent + (opts.step ?? 1));
      s.write(body.subarray(sent, next), () => undefined);
      sent = next;
    }, opts.intervalMs);
    const giveUp = setTimeout(() => {
      gaveUp = true;
      s.destroy();
    }, opts.giveUpMs);
    s.on("data", (c) => {
      if (sentAtAnswer < 0) {
        sentAtAnswer = sent;
        answerAfterMs = Date.now() - t0;
      }
      answer += c;
    });
    s.on("error", () => undefined);
    s.on("close", () => {
      clearInterval(tick);
      clearTimeout(giveUp);
      resolve({ answer, sentAtAnswer, answerAfterMs, closedAfterMs: Date.now() - t0, gaveUp });
    });
  });
}

/**
 * Sends a keyed predict whose body goes in these pieces, `gapMs` apart (after the headers), so the gateway's body
 * reader receives each piece on its own; resolves with the answer's status and error text.
 */
function sendInPieces(
  port: number,
  pieces: string[],
  gapMs = 40,
): Promise<{ status: number; error?: string }> {
  const body = Buffer.from(pieces.join(""));
  const head = `POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  return new Promise((resolve, reject) => {
    let answer = "";
    const s = net.connect(port, "127.0.0.1", async () => {
      s.setNoDelay(true);
      s.write(head);
      for (const piece of pieces) {
        await new Promise((r) => setTimeout(r, gapMs));
        s.write(piece);
      }
    });
    s.on("data", (c) => {
      answer += c;
    });
    s.on("error", reject);
    s.on("close", () => {
      const status = Number(answer.split(" ")[1]);
      const json = /\{[\s\S]*\}/.exec(answer.slice(answer.indexOf("\r\n\r\n") + 4));
      resolve({ status, ...(status === 400 && json ? { error: JSON.parse(json[0]).error } : {}) });
    });
  });
}

describe("a gateway that guards TF Serving: methods, idle floods, slow bodies, per-client limits", () => {
  let upstream: http.Server;
  let upstreamPort: number;
  const seen: Seen[] = [];
  /** Requests the upstream holds until released (to keep requests in progress). */
  const held: (() => void)[] = [];
  let hold = false;
  const gateways: HostGateway[] = [];

  beforeAll(async () => {
    upstream = await recordingUpstream(seen, (req, answer) => {
      // Model "big" answers like a large batch of detections.
      const send = () => answer(req.url?.startsWith("/v1/models/big") ? { pad: "x".repeat(2_000_000) } : {});
      if (hold) held.push(send);
      else send();
    });
    upstreamPort = (upstream.address() as AddressInfo).port;
  });

  afterAll(async () => {
    for (const g of gateways) await g.stop();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  beforeEach(() => {
    seen.length = 0;
    hold = false;
  });

  async function gateway(
    limits: Partial<GatewayLimits> = {},
    maxBodyBytes = LIMIT,
    trustedProxyCidrs?: string[],
  ): Promise<HostGateway> {
    const g = await startHostGateway({
      apiKey: KEY,
      upstream: `127.0.0.1:${upstreamPort}`,
      maxBodyBytes,
      limits,
      trustedProxyCidrs,
    });
    gateways.push(g);
    return g;
  }

  test("TRACE and CONNECT, with or without the key, answer the JSON 405 other refused methods get", async () => {
    const g = await gateway();
    const keyed = `X-API-Key: ${KEY}\r\n`;
    for (const [what, text] of [
      ["TRACE", "TRACE /v1/models/m HTTP/1.1\r\nHost: x\r\n\r\n"],
      ["TRACE with key", `TRACE /v1/models/m HTTP/1.1\r\nHost: x\r\n${keyed}\r\n`],
      ["CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"],
      ["CONNECT with key", `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n${keyed}\r\n`],
    ]) {
      const answer = await raw(g.port, text as string);
      expect([what, answer.split("\r\n")[0]]).toEqual([what, "HTTP/1.1 405 Not Allowed"]);
      expect(answer).toContain("Content-Type: application/json");
      expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)).error).toMatch(/method not allowed/);
    }
    // The same JSON as a wrong method on a model route.
    const del = await request(g.port, "DELETE", "/v1/models/m", { key: KEY });
    expect(del.status).toBe(405);
    // A request that is merely malformed (HTTP/1.1 without Host) stays a JSON 400 with the key, a JSON 401 without.
    const bad = await raw(g.port, `GET /v1/models/m HTTP/1.1\r\n${keyed}\r\n`);
    expect(bad.split("\r\n")[0]).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(bad.slice(bad.indexOf("\r\n\r\n") + 4)).error).toBe("malformed HTTP request");
    const badKeyless = await raw(g.port, "GET /v1/models/m HTTP/1.1\r\n\r\n");
    expect(badKeyless.split("\r\n")[0]).toMatch(/^HTTP\/1\.1 401 /);
    expect(seen).toEqual([]);
  });

  test("predict bodies: deep nesting, too many instances and non-JSON get a 400 naming the limit; none reach TF Serving", async () => {
    const g = await gateway({ maxJsonDepth: 8, maxInstances: 4 }, 12_000_000);
    const post = (body: Buffer | string) =>
      request(g.port, "POST", "/v1/models/m:predict", { key: KEY, body: Buffer.from(body) });
    const refusals: [string, Buffer | string, RegExp][] = [
      ["9 levels", `{"instances":[${"[".repeat(7)}1${"]".repeat(7)}]}`, /JSON nested deeper than 8 levels/],
      // 10 MB of nesting, the shape that reaches TF Serving's unbounded recursion.
      [
        "5,000,000 levels",
        `${"[".repeat(5_000_000)}${"]".repeat(5_000_000)}`,
        /JSON nested deeper than 8 levels/,
      ],
      ["5 instances", predictBody(200, 5), /more than 4 instances in one request \(5\)/],
      ["not JSON", "aaaa", /not valid JSON/],
      ["a string never closed", `{"instances":[{"b64":"${"A".repeat(1000)}`, /not valid JSON/],
      ["no body", "", /needs a JSON body/],
    ];
    for (const [what, body, message] of refusals) {
      const r = await post(body);
      expect([what, r.status]).toEqual([what, 400]);
      expect(JSON.parse(r.body).error).toMatch(message);
    }
    expect(seen).toEqual([]);
    // At the limits, and brackets inside strings (base64 has none, but a label might): passed on unchanged.
    const fine = [
      `{"instances":[${"[".repeat(6)}1${"]".repeat(6)}]}`,
      predictBody(300, 4).toString(),
      `{"instances":[{"b64":"AAAA","note":"[[[[[[[[[[[[[[[[[[[[\\"{{{{{{{{{{{{"}]}`,
      // …also in a string long enough to be skipped unread (base64-sized), escaped quotes included.
      `{"instances":[{"b64":"${'[{\\"'.repeat(300)}AAAA"}]}`,
    ];
    for (const body of fine) {
      const r = await post(body);
      expect([body.slice(0, 40), r.status]).toEqual([body.slice(0, 40), 200]);
      expect(JSON.parse(r.body)).toEqual({ upstream: true, url: "/v1/models/m:predict" });
    }
    expect(seen.map((x) => x.bodyBytes)).toEqual(fine.map((b) => Buffer.byteLength(b)));
    // A 2 MB answer comes back whole through the guard's internal redirect.
    const big = await request(g.port, "POST", "/v1/models/big:predict", { key: KEY, body: predictBody(100) });
    expect(big.status).toBe(200);
    expect(JSON.parse(big.body).pad).toHaveLength(2_000_000);
    expect(seen.every((x) => x.method === "POST" && x.headers["x-api-key"] === undefined)).toBe(true);
  });

  test("the body scan (Lua, gateway-scan.ts): huge and many strings, backslash runs, unicode escapes, brackets in strings at the depth limit", async () => {
    const g = await gateway({ maxJsonDepth: 8, maxInstances: 4 }, 21 * 1024 * 1024);
    const post = (body: string) =>
      request(g.port, "POST", "/v1/models/m:predict", { key: KEY, body: Buffer.from(body) });
    const bs = (n: number) => "\\".repeat(n);
    const long = "A".repeat(300); // over the scan's 256 bytes: emptied in the skeleton
    const row = (fields: string) => `{"instances":[{"b64":"AAAA",${fields}}]}`;
    // Depth 8 is { [ { plus five more: the value below sits at the limit, one more bracket is over it.
    const atLimit = (value: string) => row(`"x":[[[[[${value}]]]]]`);
    const overLimit = (value: string) => row(`"x":[[[[[[${value}]]]]]]`);
    const refusals: [string, string, RegExp][] = [
      [
        "a 20 MiB string never closed",
        `{"instances":[{"b64":"${"A".repeat(20 * 1024 * 1024)}`,
        /not valid JSON/,
      ],
      ["a string whose last quote is escaped", row(`"note":"abc${bs(1)}"}]}`), /not valid JSON/],
      // An even run of backslashes escapes itself: the quote closes the string and the brackets after it count.
      ["4 backslashes, short string", row(`"note":"a${bs(4)}","x":[[[[[[1]]]]]]`), /nested deeper than 8/],
      [
        "4 backslashes, long string",
        row(`"note":"${long}${bs(4)}","x":[[[[[[1]]]]]]`),
        /nested deeper than 8/,
      ],
      [
        "\\u005c (a backslash) before the quote",
        row(`"note":"a\\u005c","x":[[[[[[1]]]]]]`),
        /nested deeper than 8/,
      ],
      ["over the limit, short string inside", overLimit('"[[[]]]"'), /nested deeper than 8/],
      ["over the limit, long string inside", overLimit(`"${long}[[["`), /nested deeper than 8/],
      [
        "100,000 short strings, then one level too deep",
        row(`"labels":[${'"ab",'.repeat(100_000)}"ab"],"x":[[[[[[1]]]]]]`),
        /nested deeper than 8/,
      ],
    ];
    for (const [what, body, message] of refusals) {
      const r = await post(body);
      expect([what, r.status, JSON.parse(r.body).error]).toEqual([what, 400, expect.stringMatching(message)]);
    }
    expect(seen).toEqual([]);
    const fine: [string, string][] = [
      ["a 20 MiB body of one string", `{"instances":[{"b64":"${"A".repeat(20 * 1024 * 1024 - 100)}"}]}`],
      ["100,000 short strings", row(`"labels":[${'"ab",'.repeat(99_999)}"ab"]`)],
      ["50,000 long strings", row(`"labels":[${`"${long}",`.repeat(49_999)}"${long}"]`)],
      // An odd run: the last backslash escapes the quote, so the brackets after it are string content.
      ["3 backslashes, short string", row(`"note":"a${bs(3)}"[[[[[[[[[[[["`)],
      ["3 backslashes, long string", row(`"note":"${long}${bs(3)}"[[[[[[[[[[[["`)],
      ["a string of backslashes only", row(`"note":"${bs(600)}","y":"${bs(2)}"`)],
      ["\\u0022 (a quote) inside a string", row(`"note":"\\u0022[[[[[[[[[[[[\\u0022"`)],
      [
        "multi-byte UTF-8 around brackets",
        row(`"note":"é中😀[[[[[[[[[[[[😀","long":"${long}é中😀[[[[[[[[[["`),
      ],
      ["at the limit, short string inside", atLimit('"[[[[[[[[]]]]"')],
      ["at the limit, long string inside", atLimit(`"${long}[[[[[[[[[[["`)],
      // The scan's threshold: strings of 255, 256 and 257 bytes between the quotes, brackets included.
      ...[255, 256, 257].map((n): [string, string] => [
        `${n}-byte string`,
        atLimit(`"${"[".repeat(n - 2)}${bs(2)}"`),
      ]),
      ["an empty string at the limit", atLimit('""')],
    ];
    for (const [what, body] of fine) {
      const r = await post(body);
      expect([what, r.status]).toEqual([what, 200]);
    }
    expect(seen.map((x) => x.bodyBytes)).toEqual(fine.map(([, body]) => Buffer.byteLength(body)));
  });

  test("the body scan across receives: quotes and backslash runs at piece edges, strings spanning pieces", async () => {
    const g = await gateway({ maxJsonDepth: 8, maxInstances: 4 });
    const start = '{"instances":[{"b64":"AAAA",';
    const deep = ',"x":[[[[[[1]]]]]]}]}'; // one level over 8 when it counts
    const end = "}]}";
    const bs = (n: number) => "\\".repeat(n);
    const cases: [string, string[], "passes" | "too deep" | "not JSON"][] = [
      ["an opening quote alone in a piece", [`${start}"note":`, '"', `[[[[[[[[[[[["${end}`], "passes"],
      ["a closing quote opens a piece", [`${start}"note":"[[[[[[[[[[[[`, `"${end}`], "passes"],
      ["a closing quote opens a piece, depth after it", [`${start}"note":"[[`, `"${deep}`], "too deep"],
      [
        "an even backslash run split: the quote closes",
        [`${start}"note":"a${bs(1)}`, `${bs(1)}"${deep}`],
        "too deep",
      ],
      [
        "an odd run split: the quote is escaped",
        [`${start}"note":"a${bs(1)}`, `${bs(2)}"[[[[[[[[[["${end}`],
        "passes",
      ],
      ["a run of backslashes alone in a piece", [`${start}"note":"a`, bs(3), `"[[[[[[[[[["${end}`], "passes"],
      ["an escaped quote ends a piece", [`${start}"note":"a${bs(1)}"`, `[[[[[[[[[[[["${end}`], "passes"],
      ["a short string over three pieces", [`${start}"note":"[[[`, `${bs(2)}[[[`, `[[["${end}`], "passes"],
      [
        "a short string over three pieces, depth after it",
        [`${start}"note":"[[[`, `${bs(2)}[[[`, `[[["${deep}`],
        "too deep",
      ],
      [
        "a long string over pieces, short at first",
        [`${start}"note":"${"A".repeat(250)}`, `${"[".repeat(20)}"${end}`],
        "passes",
      ],
      [
        "a long string over pieces, depth after it",
        [`${start}"note":"${"A".repeat(250)}`, `${"[".repeat(20)}"${deep}`],
        "too deep",
      ],
      ["a string left open at the end", [`${start}"note":"abc`, "def"], "not JSON"],
      ["depth split between pieces", [`${start}"x":[[[`, "[[[1]]]]]]}]}"], "too deep"],
    ];
    for (const [what, pieces, verdict] of cases) {
      const r = await sendInPieces(g.port, pieces);
      const got =
        r.status === 200
          ? "passes"
          : /nested deeper/.test(r.error ?? "")
            ? "too deep"
            : /not valid JSON/.test(r.error ?? "")
              ? "not JSON"
              : `${r.status} ${r.error}`;
      expect([what, got]).toEqual([what, verdict]);
    }
    const passed = cases
      .filter(([, , v]) => v === "passes")
      .map(([, pieces]) => Buffer.byteLength(pieces.join("")));
    expect(seen.map((x) => x.bodyBytes)).toEqual(passed);
  });

  test("1,100 idle connections without a key do not stop a keyed request", async () => {
    const g = await gateway();
    const idle: net.Socket[] = [];
    try {
      await Promise.all(
        Array.from(
          { length: 1100 },
          () =>
            new Promise<void>((resolve, reject) => {
              const s = net.connect(g.port, "127.0.0.1", () => resolve());
              s.on("error", reject);
              idle.push(s);
            }),
        ),
      );
      const r = await request(g.port, "GET", "/v1/models/m", { key: KEY });
      expect(r.status).toBe(200);
      expect(seen.map((x) => x.url)).toEqual(["/v1/models/m"]);
      // Every idle socket is still open: the keyed request got through beside them, not after them.
      expect(idle.filter((s) => s.destroyed)).toEqual([]);
    } finally {
      for (const s of idle) s.destroy();
    }
    expect(g.log()).not.toMatch(/worker_connections are not enough/);
  });

  test("a body trickled slower than the read timeout is cut with a JSON 408, and nothing reaches TF Serving", async () => {
    const g = await gateway({ bodyTimeoutSeconds: 1 });
    // 4 of 100 announced bytes, then silence (the next piece is due only after the give-up): nginx must close the
    // connection by itself (the wait is bounded).
    const body = Buffer.from(`{"in${" ".repeat(96)}`);
    const { answer, gaveUp } = await trickle(g.port, body, {
      first: 4,
      intervalMs: 60_000,
      giveUpMs: 15_000,
    });
    expect(gaveUp).toBe(false); // nginx closed it
    expect(answer.split("\r\n")[0]).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain("Connection: close");
    expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)).error).toBe(
      "request body stalled: nothing received for 1 s",
    );
    expect(seen).toEqual([]);
  });

  test("a body trickled within the read timeout but past the total body time gets a JSON 408; nothing reaches TF Serving", async () => {
    const g = await gateway({ bodyTimeoutSeconds: 3, bodyTotalSeconds: 2 });
    const body = `{"instances":[{"b64":"AAAA"}]}`;
    // 5 bytes a second: every gap is under the 3 s read timeout, the whole body takes about 6 s.
    const { answer } = await trickle(g.port, Buffer.from(body), {
      first: 5,
      step: 5,
      intervalMs: 1000,
      giveUpMs: 20_000,
      connectionClose: true,
    });
    expect(answer.split("\r\n")[0]).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)).error).toBe(
      "request body not received within 2 s",
    );
    expect(seen).toEqual([]);
    // The same body sent at once passes: the bound is on time, not on the body.
    expect(
      (await request(g.port, "POST", "/v1/models/m:predict", { key: KEY, body: Buffer.from(body) })).status,
    ).toBe(200);
    expect(seen.map((x) => x.bodyBytes)).toEqual([body.length]);
  });

  test("a body still trickling (a byte every 200 ms, each gap far under the read timeout) is cut at its total time", async () => {
    const g = await gateway({ bodyTimeoutSeconds: 5, bodyTotalSeconds: 2 });
    const body = predictBody(200);
    const t = await trickle(g.port, body, { first: 10, intervalMs: 200, giveUpMs: 15_000 });
    expect(t.answer.split("\r\n")[0]).toMatch(/^HTTP\/1\.1 408 /);
    expect(t.answer).toContain("Connection: close");
    expect(JSON.parse(t.answer.slice(t.answer.indexOf("\r\n\r\n") + 4)).error).toBe(
      "request body not received within 2 s",
    );
    // Cut while it was still coming: far from all 200 bytes were sent, and the client was still writing.
    expect(t.sentAtAnswer).toBeLessThan(body.length / 2);
    expect(t.gaveUp).toBe(false);
    // Measured, not a performance bound: the cut came after the total time and before one more read gap.
    expect(t.answerAfterMs).toBeGreaterThanOrEqual(1_900);
    expect(t.answerAfterMs).toBeLessThan(2_000 + 1_500);
    expect(t.closedAfterMs).toBeLessThan(2_000 + 1_500 + REFUSED_BODY_LINGER_SECONDS * 1000);
    expect(seen).toEqual([]);
    // The same body in four pieces 200 ms apart ends within the bound: it passes byte for byte.
    const pieces = await trickle(g.port, body, {
      first: 0,
      step: 50,
      intervalMs: 200,
      giveUpMs: 15_000,
      connectionClose: true,
    });
    expect(pieces.answer.split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
    expect(pieces.gaveUp).toBe(false);
    expect(seen.map((x) => x.bodyBytes)).toEqual([body.length]);
  });

  test("a 20 MiB body passes whole, sent by curl (Expect: 100-continue) and by Node; a chunked body gets a JSON 411", async () => {
    const max = 20 * 1024 * 1024;
    const g = await gateway({}, max);
    const dir = makeTempDir("odapi-gw-big-");
    try {
      const file = join(dir, "body.json");
      writeFileSync(file, predictBody(max));
      // Asynchronous: the stand-in upstream runs in this process and must answer while curl waits.
      const curl = async (extra: string[]) =>
        (
          await execFileAsync(
            "curl",
            [
              "-sS",
              "--max-time",
              "60",
              "-H",
              `X-API-Key: ${KEY}`,
              "-H",
              "Content-Type: application/json",
              ...extra,
              "--data-binary",
              `@${file}`,
              "-w",
              "\n%{http_code}",
              `http://127.0.0.1:${g.port}/v1/models/m:predict`,
            ],
            { encoding: "utf8", timeout: 90_000 },
          )
        ).stdout;
      expect((await curl([])).split("\n").pop()).toBe("200");
      const node = await request(g.port, "POST", "/v1/models/m:predict", {
        key: KEY,
        body: predictBody(max),
      });
      expect(node.status).toBe(200);
      expect(seen.map((x) => x.bodyBytes)).toEqual([max, max]);
      const chunked = (await curl(["-H", "Transfer-Encoding: chunked"])).split("\n");
      expect(chunked.pop()).toBe("411");
      expect(JSON.parse(chunked.join("\n")).error).toMatch(/Content-Length/);
      expect(seen).toHaveLength(2);
    } finally {
      removeDir(dir);
    }
  });

  test("per client: requests in progress beyond the limit get a JSON 429, and so does a burst beyond the rate", async () => {
    const g = await gateway({ connectionsPerClient: 2, requestsPerSecond: 1, requestBurst: 4 });
    hold = true;
    const inProgress = [0, 1].map(() => request(g.port, "GET", "/v1/models/m", { key: KEY }));
    // Bounded wait until both are held upstream.
    for (let i = 0; i < 100 && held.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(held).toHaveLength(2);
    const third = await request(g.port, "GET", "/v1/models/m", { key: KEY });
    expect(third.status).toBe(429);
    expect(JSON.parse(third.body).error).toMatch(/too many requests or connections/);
    for (const release of held.splice(0)) release();
    hold = false;
    expect((await Promise.all(inProgress)).map((r) => r.status)).toEqual([200, 200]);

    // 3 requests spent of a burst of 4 at 1/s: of 10 more sent at once, most are refused.
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await request(g.port, "GET", "/v1/models/m", { key: KEY })).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(seen).toHaveLength(2 + statuses.filter((s) => s === 200).length);
  });

  /** `count` keyed requests one after another, each from the client `from(i)` names in X-Forwarded-For. */
  async function statusesFrom(port: number, count: number, from: (i: number) => string) {
    const answers: { status: number; body: string }[] = [];
    for (let i = 0; i < count; i++)
      answers.push(
        await request(port, "GET", "/v1/models/m", { key: KEY, headers: { "X-Forwarded-For": from(i) } }),
      );
    return answers;
  }

  test("behind a trusted proxy (127.0.0.1), each X-Forwarded-For client has its own rate limit", async () => {
    const g = await gateway({ requestsPerSecond: 1, requestBurst: 2 }, LIMIT, ["127.0.0.1/32"]);
    // Client A spends its burst: 10 requests at 1/s with a burst of 2.
    const a = await statusesFrom(g.port, 10, () => "198.51.100.1");
    const refused = a.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(JSON.parse(refused[0].body).error).toMatch(/too many requests or connections/);
    // Client B, through the same proxy address, still passes; a chain's last untrusted hop is the client.
    const b = await statusesFrom(g.port, 2, (i) => (i === 0 ? "198.51.100.2" : "203.0.113.9, 198.51.100.3"));
    expect(b.map((r) => r.status)).toEqual([200, 200]);
    expect(seen).toHaveLength(a.length - refused.length + 2);
  });

  test.each([
    ["no trusted proxies (single host)", undefined],
    ["trusted proxies that do not include the sender", ["10.0.0.0/8"]],
  ])("%s: a forged X-Forwarded-For per request does not escape the limit", async (_name, trusted) => {
    const g = await gateway({ requestsPerSecond: 1, requestBurst: 2 }, LIMIT, trusted);
    const answers = await statusesFrom(g.port, 10, (i) => `198.51.100.${10 + i}`);
    const refused = answers.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(seen).toHaveLength(answers.length - refused.length);
  });
});

describe("HTTPS: the gateway speaks TLS 1.2/1.3 with the deploy's certificate and refuses plain HTTP", () => {
  let upstream: http.Server;
  let gateway: HostGateway;
  let certs: string;
  let caPem: string;
  let otherCaPem: string;
  const seen: Seen[] = [];

  beforeAll(async () => {
    certs = makeTempDir("odapi-gw-tls-");
    const own = ensureGeneratedTls("127.0.0.1", join(certs, "own"));
    caPem = readFileSync(own.caFile, "utf8");
    otherCaPem = readFileSync(ensureGeneratedTls("127.0.0.1", join(certs, "other")).caFile, "utf8");
    upstream = await recordingUpstream(seen, (_req, answer) => answer({}));
    gateway = await startHostGateway({
      apiKey: KEY,
      upstream: `127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      maxBodyBytes: LIMIT,
      tls: {
        certFile: join(certs, "own", GENERATED_FILES.cert),
        keyFile: join(certs, "own", GENERATED_FILES.key),
      },
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    await new Promise((resolve) => upstream.close(resolve));
    removeDir(certs);
  });

  beforeEach(() => {
    seen.length = 0;
  });

  function tlsRequest(
    path: string,
    opts: { ca: string; body?: Buffer; version?: "TLSv1.2" | "TLSv1.3" },
  ): Promise<{ status: number; body: string; protocol: string }> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { "X-API-Key": KEY, "content-type": "application/json" };
      const req = https.request(
        {
          host: "127.0.0.1",
          port: gateway.port,
          method: opts.body ? "POST" : "GET",
          path,
          headers,
          ca: opts.ca,
          agent: false,
          minVersion: opts.version,
          maxVersion: opts.version,
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c) => {
            body += c;
          });
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              body,
              protocol: (res.socket as tls.TLSSocket).getProtocol() ?? "",
            }),
          );
        },
      );
      req.on("error", reject);
      req.end(opts.body);
    });
  }

  test("a client trusting the CA completes a keyed predict over TLS 1.3 and over TLS 1.2", async () => {
    for (const version of ["TLSv1.3", "TLSv1.2"] as const) {
      const r = await tlsRequest("/v1/models/m:predict", { ca: caPem, body: predictBody(500), version });
      expect([version, r.status, r.protocol]).toEqual([version, 200, version]);
      expect(JSON.parse(r.body)).toEqual({ upstream: true, url: "/v1/models/m:predict" });
    }
    expect(seen.map((x) => x.bodyBytes)).toEqual([500, 500]);
    expect(seen.every((x) => x.headers["x-api-key"] === undefined)).toBe(true);
  });

  test("a client trusting another CA refuses the server before sending the key; nothing reaches TF Serving", async () => {
    const err = await tlsRequest("/v1/models/m", { ca: otherCaPem }).catch((e) => e);
    // Node's errors come from another realm than jest's Error: check the code, not the class.
    expect((err as NodeJS.ErrnoException).code).toBe("SELF_SIGNED_CERT_IN_CHAIN");
    expect(seen).toEqual([]);
  });

  test("a keyed request over plain HTTP gets a JSON 400 naming https; nothing reaches TF Serving", async () => {
    for (const [method, path, body] of [
      ["GET", "/v1/models/m", undefined],
      ["POST", "/v1/models/m:predict", predictBody(200)],
    ] as const) {
      const r = await request(gateway.port, method, path, { key: KEY, body });
      expect([method, r.status]).toEqual([method, 400]);
      expect(JSON.parse(r.body).error).toMatch(/speaks HTTPS only: use https:\/\//);
    }
    expect(seen).toEqual([]);
  });

  test("the project's client verifies the server with the CA, and names --ca-cert when it cannot", async () => {
    const url = `https://127.0.0.1:${gateway.port}`;
    await expect(getModelStatus(url, "m", { apiKey: KEY, caCert: caPem })).resolves.toEqual({
      upstream: true,
      url: "/v1/models/m",
    });
    const refused = await getModelStatus(url, "m", { apiKey: KEY, caCert: otherCaPem }).catch((e) => e);
    expect(refused).toBeInstanceOf(OdapiError);
    expect(refused.message).toMatch(/certificate/);
    expect(refused.remedy).toMatch(/--ca-cert/);
    const noCa = await getModelStatus(url, "m", { apiKey: KEY }).catch((e) => e);
    expect(noCa).toBeInstanceOf(OdapiError);
    expect(noCa.remedy).toMatch(/--ca-cert/);
    expect(seen.map((x) => x.url)).toEqual(["/v1/models/m"]);
  });

  test("nginx -t accepts the container variant with TLS (mounted certificate paths swapped for these files)", () => {
    const dir = makeTempDir("odapi-gw-tls-t-");
    try {
      const own = join(certs, "own");
      const params = gatewayParamsForDocker({
        host: "cpu",
        remoteDir: "/o",
        models: [],
        apiKey: KEY,
        tls: { certPem: "unused", keyPem: "unused" },
      });
      expect(params.tls).toEqual({
        certFile: "/etc/nginx/odapi-tls.crt",
        keyFile: "/etc/nginx/odapi-tls.key",
      });
      const config = renderGatewayConfig({
        ...params,
        user: "root",
        pidFile: join(dir, "pid"),
        tempDir: dir,
        accessLog: join(dir, "access.log"),
        tls: { certFile: join(own, GENERATED_FILES.cert), keyFile: join(own, GENERATED_FILES.key) },
      });
      expect(config).toContain("ssl_protocols TLSv1.2 TLSv1.3;");
      expect(config).toContain("listen 8080 ssl;");
      const r = nginxCheck(config, dir);
      expect(r.output).toBe("");
      expect(r.ok).toBe(true);
    } finally {
      removeDir(dir);
    }
  });
});
