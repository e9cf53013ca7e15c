// The deployer-IP lookup against a real HTTP server on 127.0.0.1: the answer, a bad answer, an error status,
// a server that never answers (deadline) and nobody listening.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { OdapiError } from "../../common/errors";
import { detectPublicIp, parseCheckIpBody } from "../../infra/public-ip";

let server: http.Server;
let base: string;
let hang: http.ServerResponse[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === "/ok") res.end("198.51.100.7\n");
    else if (req.url === "/v6") res.end("2001:db8::7\n");
    else if (req.url === "/html") res.end("<html>captive portal</html>");
    else if (req.url === "/500") {
      res.statusCode = 503;
      res.end("busy");
    } else hang.push(res); // never answers
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hang) res.destroy();
  hang = [];
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function failure(p: Promise<unknown>): Promise<OdapiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OdapiError) return err;
    throw err;
  }
  throw new Error("expected a failure");
}

test("returns the address the service reports (IPv4 and IPv6)", async () => {
  expect(await detectPublicIp({ url: `${base}/ok` })).toBe("198.51.100.7");
  expect(await detectPublicIp({ url: `${base}/v6` })).toBe("2001:db8::7");
});

test("an answer that is not an IP is an error naming odapi:allowedCidrs", async () => {
  const err = await failure(detectPublicIp({ url: `${base}/html` }));
  expect(err.message).toContain("not an IP address");
  expect(err.remedy).toContain("odapi:allowedCidrs");
});

test("an HTTP error status is an error", async () => {
  const err = await failure(detectPublicIp({ url: `${base}/500` }));
  expect(err.message).toContain("HTTP 503");
  expect(err.remedy).toContain("odapi:allowedCidrs");
});

test("a server that never answers fails at the deadline", async () => {
  const started = Date.now();
  const err = await failure(detectPublicIp({ url: `${base}/hang`, timeoutMs: 300 }));
  expect(err.message).toContain("no answer within 300 ms");
  expect(Date.now() - started).toBeLessThan(5000);
  expect(err.exitCode).toBe(3);
});

test("nobody listening is an error", async () => {
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const err = await failure(detectPublicIp({ url: `http://127.0.0.1:${port}/` }));
  expect(err.message).toContain("could not detect this machine's public IP");
});

test("parseCheckIpBody trims the newline and rejects junk", () => {
  expect(parseCheckIpBody(" 203.0.113.9\r\n")).toBe("203.0.113.9");
  expect(() => parseCheckIpBody("203.0.113.999")).toThrow(OdapiError);
});
