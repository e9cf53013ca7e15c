// What the API-key gateway costs per request: the same predict request straight to an upstream vs through the
// rendered nginx gateway (HTTPS, as deployed; and plain HTTP, to see what TLS itself adds), on loopback, keep-alive
// on. The upstream reads the body and answers a detection-sized JSON at once, so the numbers are the gateway's own
// overhead (TF Serving's inference time comes on top of both). Rounds interleave the paths (order rotated each
// round) and the medians over rounds are printed, so a noisy moment on a shared machine hits every path alike.
// Run: npx tsx scripts/bench-gateway.ts [--requests 400] [--rounds 5] [--concurrency 1,8] [--image samples/astronaut.jpg]

import { readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { ensureGeneratedTls, GENERATED_FILES } from "../bootstrap/tls/identity";
import { DEFAULT_SAMPLE_IMAGE } from "../common/paths";
import { median, percentile } from "../common/stats";
import { type HostGateway, startHostGateway } from "./harness/host-nginx";

const KEY = "bench-key-0123456789abcdef0123456789";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

interface Path {
  label: string;
  port: number;
  key?: string;
  /** CA PEM: the path speaks TLS. */
  ca?: string;
}

interface RunStats {
  p50: number;
  p95: number;
  rps: number;
}

async function run(p: Path, body: Buffer, requests: number, concurrency: number): Promise<RunStats> {
  const agent = p.ca
    ? new https.Agent({ keepAlive: true, maxSockets: concurrency, ca: p.ca })
    : new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const request = p.ca ? https.request : http.request;
  const times: number[] = [];
  let next = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const t0 = process.hrtime.bigint();
      const headers: http.OutgoingHttpHeaders = {
        "content-type": "application/json",
        "content-length": body.length,
      };
      if (p.key) headers["X-API-Key"] = p.key;
      const req = request(
        { host: "127.0.0.1", port: p.port, method: "POST", path: "/v1/models/m:predict", headers, agent },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode !== 200) reject(new Error(`${p.label}: HTTP ${res.statusCode}`));
            times.push(Number(process.hrtime.bigint() - t0) / 1e6);
            resolve();
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const worker = async () => {
    while (next < requests) {
      next += 1;
      await one();
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95), rps: requests / seconds };
}

async function main() {
  const requests = Number(arg("requests", "400"));
  const rounds = Number(arg("rounds", "5"));
  const levels = arg("concurrency", "1,8").split(",").map(Number);
  const image = readFileSync(path.resolve(arg("image", DEFAULT_SAMPLE_IMAGE)));
  const body = Buffer.from(JSON.stringify({ instances: [{ b64: image.toString("base64") }] }));
  // A detection answer is ~100 boxes × (4 + 2 floats): about 8 KB of JSON.
  const answer = JSON.stringify({
    predictions: [{ detection_scores: Array.from({ length: 800 }, () => 0.123456) }],
  });
  const upstream = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(answer);
    });
  });
  upstream.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const certDir = path.join(os.tmpdir(), `odapi-bench-gateway-${process.pid}`);
  const made = ensureGeneratedTls("127.0.0.1", certDir);
  const common = {
    apiKey: KEY,
    upstream: `127.0.0.1:${upstreamPort}`,
    maxBodyBytes: 20 * 1024 * 1024,
    // As in the container: TF Serving found by name through a resolver (an IP here, so no lookup happens).
    resolver: "127.0.0.1",
    // One worker per CPU, as the container's config says.
    workerProcesses: "auto" as const,
    // Loopback runs thousands of requests/s from one address: lift the per-client rate so the cost is measured.
    limits: { requestsPerSecond: 1_000_000, requestBurst: 1_000_000 },
  };
  const gateways: HostGateway[] = [];
  try {
    const tlsGateway = await startHostGateway({
      ...common,
      tls: {
        certFile: path.join(certDir, GENERATED_FILES.cert),
        keyFile: path.join(certDir, GENERATED_FILES.key),
      },
    });
    gateways.push(tlsGateway);
    const plainGateway = await startHostGateway(common);
    gateways.push(plainGateway);
    const paths: Path[] = [
      { label: "direct", port: upstreamPort },
      { label: "gateway-https", port: tlsGateway.port, key: KEY, ca: readFileSync(made.caFile, "utf8") },
      { label: "gateway-http", port: plainGateway.port, key: KEY },
    ];
    console.log(
      `body ${(body.length / 1024).toFixed(0)} KiB (${path.basename(arg("image", "astronaut.jpg"))} as b64 JSON), ${requests} requests per run, ${rounds} rounds, medians over rounds; ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`,
    );
    console.log("path           conc  p50 ms  p95 ms   req/s   added p50 ms vs direct");
    for (const concurrency of levels) {
      for (const p of paths) await run(p, body, 50, concurrency); // warm up every path
      const byPath = new Map<string, RunStats[]>(paths.map((p) => [p.label, []]));
      for (let round = 0; round < rounds; round++) {
        // Rotate the order so no path always runs first (or right after another).
        const order = paths.map((_, i) => paths[(i + round) % paths.length] as Path);
        for (const p of order) byPath.get(p.label)?.push(await run(p, body, requests, concurrency));
      }
      const med = (label: string, pick: (s: RunStats) => number) =>
        median((byPath.get(label) ?? []).map(pick));
      const direct = med("direct", (s) => s.p50);
      for (const p of paths) {
        const p50 = med(p.label, (s) => s.p50);
        // Added latency: per round (same moment on the machine), then the median of those differences.
        const added = median(
          (byPath.get(p.label) ?? []).map((s, i) => s.p50 - ((byPath.get("direct") ?? [])[i]?.p50 ?? direct)),
        );
        console.log(
          `${p.label.padEnd(14)} ${String(concurrency).padStart(4)} ${p50.toFixed(2).padStart(7)} ${med(
            p.label,
            (s) => s.p95,
          )
            .toFixed(2)
            .padStart(7)} ${med(p.label, (s) => s.rps)
            .toFixed(0)
            .padStart(7)}   ${p.label === "direct" ? "" : added.toFixed(2).padStart(6)}`,
        );
      }
    }
  } finally {
    for (const g of gateways) await g.stop();
    await new Promise((resolve) => upstream.close(resolve));
    rmSync(certDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
