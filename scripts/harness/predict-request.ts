// One keyed :predict POST on loopback, for load loops (the rollout rehearsal's client, bench-replica): never
// rejects, so a loop counts failures instead of stopping at the first.
import http from "node:http";
import { API_KEY_HEADER } from "../../serving/gateway";

export interface PredictOutcome {
  /** HTTP status; 0 when the connection failed. */
  status: number;
  body: string;
  ms: number;
  error?: string;
}

export function postPredict(opts: {
  port: number;
  apiKey: string;
  model: string;
  body: string;
  agent: http.Agent;
}): Promise<PredictOutcome> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const req = http.request(
      {
        host: "127.0.0.1",
        port: opts.port,
        method: "POST",
        path: `/v1/models/${opts.model}:predict`,
        agent: opts.agent,
        headers: { "content-type": "application/json", [API_KEY_HEADER]: opts.apiKey },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, ms: ms() }));
      },
    );
    req.on("error", (err) => resolve({ status: 0, body: "", ms: ms(), error: err.message }));
    req.end(opts.body);
  });
}
