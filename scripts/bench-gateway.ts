// What the API-key gateway costs per request: the same predict request straight to an upstream vs through the
// rendered nginx gateway, on loopback. The upstream reads the body and answers a detection-sized JSON at once,
// so the numbers are the gateway's own overhead (TF Serving's inference time comes on top of both).
// Run: npx tsx scripts/bench-gateway.ts [--requests 400] [--concurrency 1,8] [--image samples/astronaut.jpg]

import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { DEFAULT_SAMPLE_IMAGE } from "../common/paths";
import { percentile } from "../common/stats";
import { startHostGateway } from "./harness/host-nginx";

const KEY = "bench-key-0123456789abcdef0123456789";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function run(port: number, body: Buffer, requests: number, concurrency: number, key?: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const times: number[] = [];
  let next = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const t0 = process.hrtime.bigint();
      const headers: http.OutgoingHttpHeaders = {
        "content-type": "application/json",
        "content-length": body.length,
      };
      if (key) headers["X-API-Key"] = key;
      const req = http.request(
        { host: "127.0.0.1", port, method: "POST", path: "/v1/models/m:predict", headers, agent },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
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
  return {
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    mean: times.reduce((a, b) => a + b, 0) / times.length,
    rps: requests / seconds,
  };
}

async function main() {
  const requests = Number(arg("requests", "400"));
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
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const gateway = await startHostGateway({
    apiKey: KEY,
    upstream: `127.0.0.1:${upstreamPort}`,
    maxBodyBytes: 20 * 1024 * 1024,
    resolver: "127.0.0.1",
    // Loopback runs thousands of requests/s from one address: lift the per-client rate so the cost is measured.
    limits: { requestsPerSecond: 1_000_000, requestBurst: 1_000_000 },
  });
  try {
    console.log(
      `body ${(body.length / 1024).toFixed(0)} KiB (${path.basename(arg("image", "astronaut.jpg"))} as b64 JSON), ${requests} requests each`,
    );
    console.log("path      conc  p50 ms  p95 ms  mean ms   req/s");
    for (const concurrency of levels) {
      await run(upstreamPort, body, 50, concurrency); // warm up both paths
      await run(gateway.port, body, 50, concurrency, KEY);
      for (const [label, port, key] of [
        ["direct", upstreamPort, undefined],
        ["gateway", gateway.port, KEY],
      ] as const) {
        const r = await run(port, body, requests, concurrency, key);
        console.log(
          `${label.padEnd(9)} ${String(concurrency).padStart(4)} ${r.p50.toFixed(2).padStart(7)} ${r.p95.toFixed(2).padStart(7)} ${r.mean.toFixed(2).padStart(8)} ${r.rps.toFixed(0).padStart(7)}`,
        );
      }
    }
  } finally {
    await gateway.stop();
    await new Promise((resolve) => upstream.close(resolve));
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
