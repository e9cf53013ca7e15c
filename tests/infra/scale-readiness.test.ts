// The scale stack's readiness command line, run for real as @pulumi/command would: an HTTPS front with a private
// CA that answers 503 at first (an ALB with no healthy target yet), then forwards to a TF Serving stand-in that
// requires the key. `odapi detect --wait` must wait through the 503s and prove a detection; without the CA it must
// fail on the certificate.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { CA_ENV, readinessCommandLine } from "../../infra/scale/plan";
import { startFakeTfServing } from "../helpers/fake-tf-serving";
import { tempDirPerTest } from "../helpers/tmp";
import { ROOT, runLikeLocalCommand } from "./harness";

jest.setTimeout(120_000);

const KEY = "ReadinessKey0123456789abcdefghijklmnopqrst";
/** Requests the front refuses with 503 before it forwards (bounded: the CLI's poll backs off from 0.5 s). */
const UNREADY_ANSWERS = 3;

/** A self-signed certificate for localhost: its own CA, as the stack's CA is to the ALB's certificate. */
function makeCertificate(dir: string): { cert: string; key: string } {
  const keyFile = path.join(dir, "key.pem");
  const certFile = path.join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost",
    ],
    { stdio: "ignore" },
  );
  return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
}

describe("readiness through an HTTPS load balancer stand-in", () => {
  const dir = tempDirPerTest("odapi-ready-");

  async function setup() {
    const backend = await startFakeTfServing({ models: ["m1", "m2"], apiKey: KEY });
    const tlsId = makeCertificate(dir());
    let refusedSoFar = 0;
    const front = https.createServer(tlsId, (req, res) => {
      if (refusedSoFar < UNREADY_ANSWERS) {
        refusedSoFar++;
        res.writeHead(503, { "content-type": "text/html" });
        res.end("<html><body>503 Service Temporarily Unavailable</body></html>");
        return;
      }
      const upstream = http.request(
        `${backend.url}${req.url}`,
        { method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
    const url = `https://localhost:${(front.address() as AddressInfo).port}`;
    return {
      backend,
      url,
      ca: tlsId.cert,
      refused: () => refusedSoFar,
      close: async () => {
        await new Promise((r) => front.close(r));
        await backend.close();
      },
    };
  }

  it("waits through the 503s, then detects with every model through TLS (the stack's CA) and the key", async () => {
    const s = await setup();
    try {
      const line = readinessCommandLine(s.url, ["m1", "m2"], true);
      const r = await runLikeLocalCommand(line, {
        dir: ROOT,
        environment: { ...process.env, ODAPI_API_KEY: KEY, [CA_ENV]: s.ca } as Record<string, string>,
      });
      expect(r.stderr).not.toContain("error:");
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.ok).toBe(true);
      expect(report.models.map((m: { name?: string; model?: string }) => m.name ?? m.model)).toEqual([
        "m1",
        "m2",
      ]);
      expect(s.refused()).toBe(UNREADY_ANSWERS);
      expect(s.backend.predictCalls.get("m1")).toBeGreaterThanOrEqual(1);
      expect(s.backend.predictCalls.get("m2")).toBeGreaterThanOrEqual(1);
      expect(s.backend.requests.every((q) => q.apiKey === KEY)).toBe(true);
    } finally {
      await s.close();
    }
  });

  it("--ca-cert reaches the wait too: detect --wait through the 503s with the CA file, no NODE_EXTRA_CA_CERTS", async () => {
    const s = await setup();
    try {
      const caFile = path.join(dir(), "ca.crt");
      writeFileSync(caFile, s.ca);
      const r = await runLikeLocalCommand(
        `node bin/odapi.cjs detect --url ${s.url} --model m1 --ca-cert ${caFile} --wait 60 --json`,
        { dir: ROOT, environment: { ...process.env, ODAPI_API_KEY: KEY } as Record<string, string> },
      );
      expect(r.stderr).not.toContain("error:");
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).ok).toBe(true);
      expect(s.refused()).toBe(UNREADY_ANSWERS);
      expect(s.backend.predictCalls.get("m1")).toBeGreaterThanOrEqual(1);
    } finally {
      await s.close();
    }
  });

  // Without --wait: main's client counts an untrusted certificate as "unreachable", which a wait retries.
  it("without the CA the same detection is refused on the certificate", async () => {
    const s = await setup();
    try {
      const r = await runLikeLocalCommand(`node bin/odapi.cjs detect --url ${s.url} --model m1 --json`, {
        dir: ROOT,
        environment: { ...process.env, ODAPI_API_KEY: KEY } as Record<string, string>,
      });
      expect(r.stdout + r.stderr).toMatch(/certificate/i);
      expect(r.code).not.toBe(0);
      expect(s.backend.predictCalls.get("m1") ?? 0).toBe(0);
    } finally {
      await s.close();
    }
  });
});
