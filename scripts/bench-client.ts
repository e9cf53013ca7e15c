// Shows the client's load generator is never the bottleneck: requests/s it sustains on loopback against a
// trivial server (in its own process, so the two do not share a core). Run: npm run bench:client
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { runBench } from "../client/bench";
import { predictRequestBody } from "../client/request";
import { DEFAULT_SAMPLE_IMAGE } from "../common/paths";

const TARGET_RPS = 1000;

// A server that answers every :predict at once with a small detection result, like a very fast TF Serving.
const SERVER = `
const http = require("node:http");
const answer = JSON.stringify({ predictions: [{ detection_boxes: [[0.1, 0.2, 0.6, 0.5]], detection_scores: [0.9], detection_classes: [1], num_detections: 1 }] });
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => { res.writeHead(200, { "content-type": "application/json", "content-length": answer.length }); res.end(answer); });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => process.send(server.address().port));
process.on("disconnect", () => process.exit(0));
`;

async function main() {
  const child = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const port = await new Promise<number>((resolve) =>
    child.once("message", (p: unknown) => resolve(Number(p))),
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const tiny = JSON.stringify(predictRequestBody([Buffer.from([0xff, 0xd8, 0xff, 0xdb])]));
  const photo = JSON.stringify(predictRequestBody([readFileSync(DEFAULT_SAMPLE_IMAGE)]));
  const cases = [
    { name: "4-byte body, concurrency 1", body: tiny, concurrency: 1, requests: 5000 },
    { name: "4-byte body, concurrency 8", body: tiny, concurrency: 8, requests: 20000 },
    { name: "4-byte body, concurrency 32", body: tiny, concurrency: 32, requests: 20000 },
    {
      name: `astronaut.jpg (${(photo.length / 1024).toFixed(0)} KiB JSON), concurrency 8`,
      body: photo,
      concurrency: 8,
      requests: 10000,
    },
  ];
  console.log(`load generator on loopback against a trivial server (node ${process.version}):`);
  let best = 0;
  try {
    for (const c of cases) {
      const r = await runBench({
        baseUrl,
        model: "m",
        bodies: [c.body],
        requests: c.requests,
        concurrency: c.concurrency,
        warmup: 200,
      });
      best = Math.max(best, r.requestsPerSecond);
      const l = r.latencyMs;
      console.log(
        `  ${c.name.padEnd(44)} ${r.requestsPerSecond.toFixed(0).padStart(6)} req/s  ` +
          `p50 ${l.p50.toFixed(2)} ms  p99 ${l.p99.toFixed(2)} ms  errors ${r.errors}  (${c.requests} requests in ${r.seconds.toFixed(2)} s)`,
      );
      if (r.errors) throw new Error(`${r.errors} errors: ${r.errorSamples[0]?.message}`);
    }
  } finally {
    child.disconnect();
  }
  const ok = best >= TARGET_RPS;
  console.log(`best ${best.toFixed(0)} req/s: ${ok ? "meets" : "BELOW"} the ${TARGET_RPS} req/s target`);
  process.exitCode = ok ? 0 : 1;
}

main().catch((e) => {
  console.error(`error: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
});
