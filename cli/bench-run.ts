// The bench run: load on every checked model, a table, a JSON report with raw latencies and a histogram PNG.
import path from "node:path";
import { SingleBar } from "cli-progress";
import pc from "picocolors";
import { type BenchResult, batchBodies, runBench } from "../client/bench";
import { histogramPlan, writeHistogram } from "../client/present/histogram";
import { type BenchReport, benchSummary, benchTable, stamp } from "../client/present/report";
import { predictRequestBody } from "../client/request";
import { ExitCode } from "../common/errors";
import { writeFileAtomic } from "../common/files";
import type { ClientOptions } from "./client-options";
import { type ClientIo, type OpenTarget, openTarget, requestAuth } from "./client-target";
import { onFirstInterrupt } from "./interrupt";
import { ReportedFailure } from "./run-cli";

async function benchAll(opts: ClientOptions, { target: t, images, checks }: OpenTarget, io: ClientIo) {
  const groups = batchBodies(images, opts.batch);
  const bodies = groups.map((group) => JSON.stringify(predictRequestBody(group.map((img) => img.bytes))));
  const warmup = opts.warmup ?? Math.max(5, opts.concurrency);
  const results: BenchResult[] = [];
  // First Ctrl-C: stop sending, let requests in flight finish, still write the report; second: quit now.
  const stop = new AbortController();
  const release = onFirstInterrupt(() => {
    stop.abort();
    io.err(
      "\ninterrupted: finishing the requests in flight, then writing the report (Ctrl-C again quits now)\n",
    );
  });
  try {
    for (const check of checks) {
      if (stop.signal.aborted) break;
      const bar =
        io.isTty && !opts.json
          ? new SingleBar({
              format: `${check.name} [{bar}] {value}/{total} requests · {duration}s`,
              stream: process.stderr,
            })
          : undefined;
      bar?.start(opts.requests, 0);
      try {
        results.push(
          await runBench({
            baseUrl: t.url,
            model: check.name,
            bodies,
            bodyNames: groups.map((g) => [...new Set(g.map((img) => img.path))].join(" + ")),
            imagesPerRequest: opts.batch,
            requests: opts.requests,
            concurrency: opts.concurrency,
            warmup,
            ...requestAuth(t),
            timeoutMs: opts.timeoutMs,
            signal: stop.signal,
            onProgress: bar ? (done) => bar.update(done) : undefined,
          }),
        );
      } finally {
        bar?.stop();
      }
    }
  } finally {
    release();
  }
  // Each refused body once, however many models refused it (the message names its files).
  const refused = new Map<number, string>();
  for (const r of results)
    for (const { body, message } of r.refused) if (!refused.has(body)) refused.set(body, message);
  for (const message of refused.values()) io.err(`error: ${message}\n`);
  const base = path.join(opts.out, `bench-${stamp(new Date())}`);
  const reportFile = `${base}.json`;
  const histogramFile = `${base}.png`;
  // The bitmap font has ASCII only.
  const title = `latency per request - ${opts.requests} requests at concurrency ${opts.concurrency} - ${t.url}`;
  await writeHistogram(
    histogramPlan(
      results.map((r) => ({ name: r.model, latencies: r.latencies, summary: r.latencyMs })),
      title,
    ),
    histogramFile,
  );
  const report: BenchReport = {
    ok: !stop.signal.aborted && refused.size === 0 && results.every((r) => r.errors === 0),
    mode: "bench",
    url: t.url,
    source: t.source,
    images: images.map((i) => i.path),
    refused: [...refused.values()],
    interrupted: stop.signal.aborted,
    models: results.map((r, i) => ({ ...checks[i], bench: benchSummary(r) })),
    report: reportFile,
    histogram: histogramFile,
  };
  // The file keeps the raw latencies too, so runs can be compared later.
  await writeFileAtomic(
    reportFile,
    `${JSON.stringify({ ...report, latenciesMs: Object.fromEntries(results.map((r) => [r.model, r.latencies])) }, null, 2)}\n`,
  );
  if (!opts.json) {
    io.out(`\n${benchTable(results)}\n`);
    if (stop.signal.aborted)
      io.out(`${pc.yellow("interrupted:")} the numbers cover the requests made before Ctrl-C\n`);
    io.out(`report → ${pc.cyan(reportFile)}\nhistogram → ${pc.cyan(histogramFile)}\n`);
  }
  return {
    report,
    failed: results.flatMap((r) => r.errorSamples),
    refused: refused.size,
    interrupted: stop.signal.aborted,
  };
}

/**
 * `odapi bench`: the report is the outcome even when requests failed, so a failed run ends with
 * ReportedFailure (the exit code of the most frequent error), not a second error document.
 */
export async function runBenchCommand(opts: ClientOptions, io: ClientIo): Promise<void> {
  const { report, failed, refused, interrupted } = await benchAll(opts, await openTarget(opts, io), io);
  if (opts.json) io.out(`${JSON.stringify(report, null, 2)}\n`);
  if (interrupted) throw new ReportedFailure(ExitCode.interrupted);
  if (failed.length === 0) {
    if (refused === 0) return;
    io.err(
      `error: ${refused} image request(s) refused by the server, left out of the benchmark (named above); the numbers cover the others\n`,
    );
    throw new ReportedFailure(ExitCode.badRequest);
  }
  const worst = failed.reduce((a, b) => (b.count > a.count ? b : a));
  const total = failed.reduce((s, f) => s + f.count, 0);
  io.err(`error: ${total} benchmark request(s) failed; most often (${worst.count}×): ${worst.message}\n`);
  throw new ReportedFailure(worst.exitCode);
}
