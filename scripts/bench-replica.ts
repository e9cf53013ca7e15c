// What one replica serves: the rehearsal's host (the real rendered gateway container in front of the TF Serving
// stand-in that runs real TensorFlow on a prepared SavedModel, in the private Docker engine) is deployed with
// odapi, then keyed predictions are sent through its gateway by closed loops of rising concurrency, the levels
// interleaved round by round. The saturated rate is the basis of the scale stack's targetRequestsPerReplica
// (requests per minute per replica, ALBRequestCountPerTarget).
// Run: npx tsx scripts/bench-replica.ts [--rounds 3] [--seconds 8] [--concurrency 1,2,4,8] [--headroom 0.5]
import { readFileSync } from "node:fs";
import http from "node:http";
import { predictRequestBody } from "../client/request";
import { median, percentile } from "../common/stats";
import { HEALTH_PATH } from "../serving/constants";
import { arg } from "./harness/argv";
import { postPredict } from "./harness/predict-request";
import { deployModels, MODEL, openRehearsal, prepareVersion } from "./harness/rehearsal";

interface Round {
  concurrency: number;
  perSecond: number;
  p50Ms: number;
  p95Ms: number;
  failed: number;
}

/** `concurrency` closed loops for `seconds`: completed requests per second and latency. */
async function closedLoop(port: number, key: string, body: string, concurrency: number, seconds: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const times: number[] = [];
  let failed = 0;
  const end = Date.now() + seconds * 1000;
  const one = async () => {
    const r = await postPredict({ port, apiKey: key, model: MODEL, body, agent });
    if (r.status === 200) times.push(r.ms);
    else failed++;
  };
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) await one();
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  agent.destroy();
  const sorted = [...times].sort((a, b) => a - b);
  return {
    concurrency,
    perSecond: times.length / elapsed,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    failed,
  };
}

async function main(): Promise<void> {
  const rounds = Number(arg("rounds", "3"));
  const seconds = Number(arg("seconds", "8"));
  const levels = arg("concurrency", "1,2,4,8").split(",").map(Number);
  const headroom = Number(arg("headroom", "0.5"));
  const opened = await openRehearsal({ log: (line) => process.stderr.write(`${line}\n`) });
  if ("skipped" in opened) {
    console.log(`skipped: ${opened.skipped}`);
    return;
  }
  const r = opened.rehearsal;
  try {
    await prepareVersion(r, 1);
    await deployModels(r);
    const health = await fetch(`http://127.0.0.1:${r.publicPort}${HEALTH_PATH}`);
    console.log(`gateway ${HEALTH_PATH} (no key): ${health.status} ${(await health.text()).trim()}`);
    const body = JSON.stringify(predictRequestBody([readFileSync(r.photo)]));
    // Warm the model (first predictions build the graph) before anything is measured.
    await closedLoop(r.publicPort, r.apiKey, body, 1, 2);
    const results: Round[] = [];
    for (let round = 1; round <= rounds; round++) {
      for (const c of levels) {
        const one = await closedLoop(r.publicPort, r.apiKey, body, c, seconds);
        results.push(one);
        console.log(
          `round ${round} concurrency ${c}: ${one.perSecond.toFixed(1)} req/s, p50 ${one.p50Ms.toFixed(1)} ms, p95 ${one.p95Ms.toFixed(1)} ms, failed ${one.failed}`,
        );
      }
    }
    console.log("\nmedians over rounds:");
    let best = 0;
    for (const c of levels) {
      const mine = results.filter((x) => x.concurrency === c);
      const rate = median(mine.map((x) => x.perSecond));
      best = Math.max(best, rate);
      console.log(
        `concurrency ${c}: ${rate.toFixed(1)} req/s (${(rate * 60).toFixed(0)}/min), p50 ${median(mine.map((x) => x.p50Ms)).toFixed(1)} ms, p95 ${median(mine.map((x) => x.p95Ms)).toFixed(1)} ms, failed ${mine.reduce((n, x) => n + x.failed, 0)}`,
      );
    }
    console.log(
      `\nsaturated rate per replica: ${best.toFixed(1)} req/s = ${(best * 60).toFixed(0)} requests/min; ` +
        `targetRequestsPerReplica at ${headroom * 100} % of it: ${Math.floor(best * 60 * headroom)}`,
    );
  } finally {
    await r.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
