// What the API-key gateway adds per request: the same predict request straight to an upstream vs through the
// rendered nginx gateway (HTTPS, as deployed; and plain HTTP, to see what TLS itself adds), on loopback, keep-alive
// on. The client is wrk (C, its own process, one thread); the upstream is a TF Serving stand-in in its own process
// that reads the whole body and answers a detection-sized JSON at once, so the difference is the gateway's own cost
// (TF Serving's inference time comes on top of both). Rounds interleave the paths (order rotated each round) and
// medians over rounds are printed, so a noisy moment on a shared machine hits every path alike.
// Needs wrk (apt-get install wrk).
// Run: npx tsx scripts/bench-gateway.ts [--seconds 3] [--rounds 5] [--concurrency 1,8] [--image samples/astronaut.jpg]

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureGeneratedTls, GENERATED_FILES } from "../bootstrap/tls/identity";
import { DEFAULT_SAMPLE_IMAGE } from "../common/paths";
import { median } from "../common/stats";
import { API_KEY_HEADER } from "../serving/gateway";
import { arg } from "./harness/argv";
import { type DetectionUpstream, startDetectionUpstream } from "./harness/detection-upstream";
import { type HostGateway, startHostGateway } from "./harness/host-nginx";
import { childPids, cpuSeconds } from "./harness/proc-cpu";
import { runWrk, type WrkResult, wrkVersion } from "./harness/wrk";

const KEY = "bench-key-0123456789abcdef0123456789";

interface Path {
  label: string;
  url: string;
  key?: string;
  /** Whose CPU time a request costs here: the nginx workers (a gateway path) or the upstream (direct). */
  cpuPids: () => number[];
}

type Run = WrkResult & { cpuUsPerRequest: number };

async function main() {
  const seconds = Number(arg("seconds", "3"));
  const rounds = Number(arg("rounds", "5"));
  const levels = arg("concurrency", "1,8").split(",").map(Number);
  const imageFile = path.resolve(arg("image", DEFAULT_SAMPLE_IMAGE));
  const wrk = wrkVersion();
  const dir = mkdtempSync(path.join(os.tmpdir(), "odapi-bench-gateway-"));
  const bodyFile = path.join(dir, "body.json");
  const body = JSON.stringify({ instances: [{ b64: readFileSync(imageFile).toString("base64") }] });
  writeFileSync(bodyFile, body);
  const tlsDir = path.join(dir, "tls");
  ensureGeneratedTls("127.0.0.1", tlsDir);
  const gateways: HostGateway[] = [];
  let upstream: DetectionUpstream | undefined;
  try {
    upstream = await startDetectionUpstream();
    const common = {
      apiKey: KEY,
      upstream: `127.0.0.1:${upstream.port}`,
      maxBodyBytes: 20 * 1024 * 1024,
      // As in the container: one worker per CPU.
      workerProcesses: "auto" as const,
      // Loopback runs thousands of requests/s from one address: lift the per-client rate so the cost is measured.
      limits: { requestsPerSecond: 1_000_000, requestBurst: 1_000_000 },
    };
    const tlsGateway = await startHostGateway({
      ...common,
      tls: {
        certFile: path.join(tlsDir, GENERATED_FILES.cert),
        keyFile: path.join(tlsDir, GENERATED_FILES.key),
      },
    });
    gateways.push(tlsGateway);
    const plainGateway = await startHostGateway(common);
    gateways.push(plainGateway);
    const upstreamPid = upstream.pid;
    const paths: Path[] = [
      { label: "direct", url: `http://127.0.0.1:${upstream.port}`, cpuPids: () => [upstreamPid] },
      {
        label: "gateway-https",
        url: `https://127.0.0.1:${tlsGateway.port}`,
        key: KEY,
        cpuPids: () => childPids(tlsGateway.pid),
      },
      {
        label: "gateway-http",
        url: `http://127.0.0.1:${plainGateway.port}`,
        key: KEY,
        cpuPids: () => childPids(plainGateway.pid),
      },
    ];
    const run = (p: Path, concurrency: number, runSeconds: number): Run => {
      const pids = p.cpuPids();
      const cpuBefore = cpuSeconds(pids);
      const r = runWrk({
        url: p.url,
        connections: concurrency,
        seconds: runSeconds,
        dir,
        request: {
          method: "POST",
          path: "/v1/models/m:predict",
          headers: { "Content-Type": "application/json", ...(p.key ? { [API_KEY_HEADER]: p.key } : {}) },
          bodyFile,
        },
      });
      if (r.errors > 0) throw new Error(`${p.label}: ${r.errors} of ${r.requests} requests failed`);
      return { ...r, cpuUsPerRequest: ((cpuSeconds(pids) - cpuBefore) * 1e6) / r.requests };
    };
    console.log(
      `${wrk.split(" [")[0]} (1 thread, keep-alive) → ${(body.length / 1024).toFixed(0)} KiB POST (${path.basename(imageFile)} as b64 JSON) → stand-in upstream process (8 KB answer); ${seconds} s per run, ${rounds} rounds, medians over rounds; ${os.cpus().length} CPUs, load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}`,
    );
    console.log(
      "path           conc  p50 ms  p90 ms  p99 ms   req/s  CPU µs/req (nginx; direct: upstream)  added p50 ms vs direct",
    );
    for (const concurrency of levels) {
      for (const p of paths) run(p, concurrency, 1); // warm up every path
      const byPath = new Map<string, Run[]>(paths.map((p) => [p.label, []]));
      for (let round = 0; round < rounds; round++) {
        // Rotate the order so no path always runs first (or right after another).
        const order = paths.map((_, i) => paths[(i + round) % paths.length] as Path);
        for (const p of order) byPath.get(p.label)?.push(run(p, concurrency, seconds));
      }
      const of = (label: string) => byPath.get(label) ?? [];
      const med = (label: string, pick: (s: Run) => number) => median(of(label).map(pick));
      for (const p of paths) {
        // Added latency: per round (same moment on the machine), then the median of those differences.
        const added = median(of(p.label).map((s, i) => s.p50 - (of("direct")[i]?.p50 ?? Number.NaN)));
        const cols = [med(p.label, (s) => s.p50), med(p.label, (s) => s.p90), med(p.label, (s) => s.p99)];
        const rps = med(p.label, (s) => s.rps).toFixed(0);
        const cpu = med(p.label, (s) => s.cpuUsPerRequest).toFixed(0);
        const addedText = p.label === "direct" ? "" : added.toFixed(2).padStart(6);
        const row = [
          p.label.padEnd(14),
          String(concurrency).padStart(4),
          ...cols.map((c) => c.toFixed(2).padStart(7)),
        ];
        console.log(
          `${row.join(" ")} ${rps.padStart(7)}  ${cpu.padStart(10)}                            ${addedText}`,
        );
      }
    }
    console.log(
      `load after: ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}`,
    );
  } finally {
    for (const g of gateways) await g.stop();
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
