// A TF Serving stand-in for latency benchmarks, in its own process as TF Serving is: it reads each request's whole
// body and answers a detection-sized JSON at once, so what a benchmark measures is the path in front of it.
import { type ChildProcess, spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { OdapiError } from "../../common/errors";
import { stopperOf } from "./child";

/** ~100 boxes × (4 + 2 floats) of a detection answer: about 8 KB of JSON. */
export const DETECTION_ANSWER = JSON.stringify({
  predictions: [{ detection_scores: Array.from({ length: 800 }, () => 0.123456) }],
});

export interface DetectionUpstream {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts this file as a child process on a free loopback port; resolves once it listens. */
export async function startDetectionUpstream(deadlineMs = 20_000): Promise<DetectionUpstream> {
  // process.execArgv carries tsx's loader, so the child runs this .ts file the same way.
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, __filename], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(
        new OdapiError(
          `the benchmark upstream did not start within ${deadlineMs} ms`,
          "rerun; check that tsx runs",
          "failure",
        ),
      );
    }, deadlineMs);
    let out = "";
    child.stdout?.on("data", (chunk) => {
      out += chunk;
      const line = /^listening (\d+)\n/.exec(out);
      if (line) {
        clearTimeout(timer);
        resolve(Number(line[1]));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new OdapiError(`the benchmark upstream exited (${code})`, "read its message above", "failure"));
    });
  });
  return {
    port,
    pid: child.pid ?? 0,
    stop: stopperOf(child),
  };
}

function serve(): void {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(DETECTION_ANSWER);
    });
  });
  // Longer than any benchmark run: a client's keep-alive connection is never closed under it.
  server.keepAliveTimeout = 600_000;
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
  });
  process.on("SIGTERM", () => process.exit(0));
}

if (require.main === module) serve();
