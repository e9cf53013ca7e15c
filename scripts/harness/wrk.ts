// wrk (a C load generator) for latency benchmarks: closed loops of keep-alive connections in its own process, so
// the client's cost (TLS included) is not paid on the event loop of the thing measured.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { OdapiError } from "../../common/errors";

export const WRK = "wrk";

export interface WrkRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** File whose bytes are every request's body. */
  bodyFile: string;
}

export interface WrkResult {
  requests: number;
  /** Non-2xx/3xx answers plus connect/read/write/timeout errors. */
  errors: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
}

/** wrk's Lua script: the request, and one JSON line with wrk's own latency percentiles (µs) when done (pure). */
export function renderWrkScript(r: WrkRequest): string {
  const lua = (s: string) => JSON.stringify(s);
  return `local f = assert(io.open(${lua(r.bodyFile)}, "rb"))
wrk.method = ${lua(r.method)}
wrk.path = ${lua(r.path)}
wrk.body = f:read("*a")
f:close()
${Object.entries(r.headers)
  .map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`)
  .join("\n")}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('odapi-wrk {"requests":%d,"errors":%d,"seconds":%f,"p50":%d,"p90":%d,"p99":%d}\\n',
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
`;
}

/** The wrk version line, or a missingTool error saying how to install it. */
export function wrkVersion(): string {
  const r = spawnSync(WRK, ["--version"], { encoding: "utf8" });
  if (r.error) {
    throw new OdapiError(
      `cannot run ${WRK}: ${r.error.message}`,
      "install the load generator: apt-get install wrk (Debian/Ubuntu)",
      "missingTool",
    );
  }
  return `${r.stdout}${r.stderr}`.split("\n")[0]?.trim() ?? WRK;
}

/** One closed-loop run: `connections` keep-alive connections on one wrk thread for `seconds`. */
export function runWrk(opts: {
  url: string;
  request: WrkRequest;
  connections: number;
  seconds: number;
  dir: string;
}): WrkResult {
  const script = join(opts.dir, "wrk.lua");
  writeFileSync(script, renderWrkScript(opts.request));
  const r = spawnSync(
    WRK,
    [
      "--threads",
      "1",
      "--connections",
      String(opts.connections),
      "--duration",
      `${opts.seconds}s`,
      "--timeout",
      "10s",
      "--latency",
      "--script",
      script,
      opts.url,
    ],
    { encoding: "utf8", timeout: (opts.seconds + 30) * 1000 },
  );
  const line = /^odapi-wrk (\{.*\})$/m.exec(r.stdout ?? "");
  if (r.status !== 0 || !line) {
    throw new OdapiError(
      `wrk against ${opts.url} failed: ${(r.error?.message ?? `${r.stdout}${r.stderr}`).trim()}`,
      "read wrk's message",
      "failure",
    );
  }
  const o = JSON.parse(line[1] as string) as {
    requests: number;
    errors: number;
    seconds: number;
    p50: number;
    p90: number;
    p99: number;
  };
  return {
    requests: o.requests,
    errors: o.errors,
    rps: o.requests / o.seconds,
    p50: o.p50 / 1000,
    p90: o.p90 / 1000,
    p99: o.p99 / 1000,
  };
}
