// `npm run bench:publish`: odapi publish and the sync agent against `aws s3 sync`, both ways, on a local S3 server
// (moto), rounds interleaved so drift hits every tool alike. Prints figures; checks only that each run is what it is named.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Table from "cli-table3";
import { median } from "../common/stats";
import { renderSyncScript } from "../serving/sync-agent";
import { AWS_CLI, startMoto } from "./harness/moto";

const DATA = path.join(os.tmpdir(), "odapi-bench-publish-data", "models");
/** The 201.2 MB five-file set of bench:upload (design.md), as a prepared model `bench/1`. */
const SIZES: [string, number][] = [
  ["variables/variables.data-00000-of-00002", 150_000_000],
  ["variables/variables.data-00001-of-00002", 40_000_000],
  ["saved_model.pb", 8_000_000],
  ["assets.extra/tf_serving_warmup_requests", 3_000_000],
  ["variables/variables.index", 200_000],
];
const TOTAL_BYTES = SIZES.reduce((n, [, size]) => n + size, 0);
// Even, so each tool goes first as often as second (alternate below).
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const ODAPI = path.resolve(__dirname, "..", "bin", "odapi.cjs");

function writeRandom(file: string, size: number): void {
  if (existsSync(file) && statSync(file).size === size) return;
  mkdirSync(path.dirname(file), { recursive: true });
  const chunks: Buffer[] = [];
  for (let left = size; left > 0; left -= 1 << 20) chunks.push(randomBytes(Math.min(left, 1 << 20)));
  writeFileSync(file, Buffer.concat(chunks));
}

/** GNU time, when installed, reports each run's CPU (user + sys): a figure that other load distorts far less. */
const GNU_TIME = "/usr/bin/time";
const CPU_LINE = /^odapi-bench-cpu ([\d.]+) ([\d.]+)$/m;
/** CPU seconds per tool label, filled by run() when GNU time is there. */
const cpu: Record<string, number[]> = {};

/** Wall seconds of a whole process and its stdout; throws with its stderr when it fails. */
function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cpuLabel?: string,
): { seconds: number; stdout: string } {
  const full = { ...process.env, ...env };
  // The hash cache's place is chosen per run below ($XDG_CACHE_HOME), so an inherited override must not win.
  delete full.ODAPI_CACHE_DIR;
  const viaTime = cpuLabel !== undefined && existsSync(GNU_TIME);
  const [file, argv] = viaTime ? [GNU_TIME, ["-f", "odapi-bench-cpu %U %S", cmd, ...args]] : [cmd, args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, argv, { env: full, encoding: "utf8" });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stderr}`);
  const used = viaTime ? CPU_LINE.exec(r.stderr) : null;
  if (cpuLabel && used) cpu[cpuLabel] = [...(cpu[cpuLabel] ?? []), Number(used[1]) + Number(used[2])];
  return { seconds, stdout: r.stdout };
}

const timed = (cmd: string, args: string[], env: NodeJS.ProcessEnv, cpuLabel?: string): number =>
  run(cmd, args, env, cpuLabel).seconds;

/**
 * One whole `odapi publish` process; throws unless its --json result is the run it is timed as (a first publish
 * that hashed and sent every file, or a no-op that read and sent nothing), so a figure never hides a wrong run.
 */
function timedPublish(args: string[], env: NodeJS.ProcessEnv, expect: "first" | "no-op"): number {
  const { seconds, stdout } = run(process.execPath, [ODAPI, ...args], env, `odapi publish (${expect})`);
  const r = JSON.parse(stdout) as { uploadedBytes: number; hashedFiles: number };
  const want =
    expect === "first"
      ? { uploadedBytes: TOTAL_BYTES, hashedFiles: SIZES.length }
      : { uploadedBytes: 0, hashedFiles: 0 };
  if (r.uploadedBytes !== want.uploadedBytes || r.hashedFiles !== want.hashedFiles)
    throw new Error(`${expect} publish was not one: ${stdout}`);
  return seconds;
}

/** Runs both in the order given, first one first on odd rounds and the other first on even rounds. */
function alternate(round: number, a: () => void, b: () => void): void {
  if (round % 2 === 1) {
    a();
    b();
  } else {
    b();
    a();
  }
}

/**
 * One round, tools interleaved: up with each, no-op publish, down with each, no-op agent run. Who goes first
 * alternates per round: the second upload meets a server already holding the first's 201 MB.
 */
function benchRound(
  round: number,
  work: string,
  env: NodeJS.ProcessEnv,
  add: (k: string, s: number) => void,
): void {
  // A fresh, empty cache home per round: the first publish hashes everything, the no-op uses what it wrote.
  const cacheHome = { XDG_CACHE_HOME: path.join(work, `cache-${round}`) };
  const publish = ["publish", "--bucket", "bench", "--prefix", "pub", "--models", DATA, "--json"];
  alternate(
    round,
    () =>
      add(
        "aws s3 sync up (first)",
        timed(AWS_CLI, ["s3", "sync", "--only-show-errors", DATA, "s3://bench/sync/"], env, "aws s3 sync up"),
      ),
    () => {
      add("odapi publish (first, cold hash cache)", timedPublish(publish, { ...env, ...cacheHome }, "first"));
      add(
        "odapi publish (no-op rerun, whole process)",
        timedPublish(publish, { ...env, ...cacheHome }, "no-op"),
      );
    },
  );
  const host = path.join(work, `host-${round}`);
  const script = path.join(work, `sync-${round}.sh`);
  writeFileSync(script, renderSyncScript({ bucket: "bench", prefix: "pub", remoteDir: host }));
  alternate(
    round,
    () =>
      add(
        "aws s3 sync down (empty dir)",
        timed(
          AWS_CLI,
          ["s3", "sync", "--only-show-errors", "s3://bench/sync/", path.join(work, `down-${round}`)],
          env,
        ),
      ),
    () => {
      add("sync agent (empty host dir)", timed("bash", [script], { ...env, ODAPI_AWS_CLI: AWS_CLI }));
      add("sync agent (no-op rerun)", timed("bash", [script], { ...env, ODAPI_AWS_CLI: AWS_CLI }));
    },
  );
  rmSync(path.join(work, `down-${round}`), { recursive: true, force: true });
  rmSync(host, { recursive: true, force: true });
}

async function main(): Promise<void> {
  for (const [rel, size] of SIZES) writeRandom(path.join(DATA, "bench", "1", rel), size);
  const work = mkdtempSync(path.join(os.tmpdir(), "odapi-bench-publish-"));
  const rows: Record<string, number[]> = {};
  /** The 1-minute load average as each round starts: figures are only comparable at a similar load. */
  const loads: number[] = [];
  const add = (k: string, s: number) => {
    rows[k] = [...(rows[k] ?? []), s];
  };
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      // A fresh server per round: moto keeps objects in memory and slows down as they pile up.
      const moto = await startMoto();
      try {
        const env = { ...moto.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
        timed(AWS_CLI, ["s3", "mb", "s3://bench"], env);
        loads.push(os.loadavg()[0] as number);
        benchRound(round, work, env, add);
      } finally {
        await moto.stop();
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const table = new Table({ head: ["201.2 MB, 5 files, moto on 127.0.0.1", "median s", "all rounds s"] });
  for (const [k, xs] of Object.entries(rows))
    table.push([k, median(xs).toFixed(2), xs.map((x) => x.toFixed(2)).join(" ")]);
  console.log(table.toString());
  const m = (k: string) => median(rows[k] as number[]);
  // Per-round ratios too: under a shifting load the median of ratios drifts less than the ratio of medians.
  const perRound = (a: string, b: string) =>
    median((rows[a] as number[]).map((x, i) => x / ((rows[b] as number[])[i] as number)));
  const ratio = (label: string, a: string, b: string) =>
    console.log(
      `${label}: ${(m(a) / m(b)).toFixed(2)}× (ratio of medians), ${perRound(a, b).toFixed(2)}× (median of per-round ratios)`,
    );
  ratio("publish / aws s3 sync up", "odapi publish (first, cold hash cache)", "aws s3 sync up (first)");
  ratio("agent / aws s3 sync down", "sync agent (empty host dir)", "aws s3 sync down (empty dir)");
  for (const [k, xs] of Object.entries(cpu))
    console.log(
      `CPU of ${k} (user + sys, whole process): median ${median(xs).toFixed(2)} s, all ${xs.map((x) => x.toFixed(2)).join(" ")}`,
    );
  console.log(`load average (1 min) as each round started: ${loads.map((l) => l.toFixed(1)).join(" ")}`);
  console.log(
    `load average at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
