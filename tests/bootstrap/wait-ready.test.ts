// waitUntilServing: status polling and the one real detection, over HTTP and through an SSH port forward.
// TF Serving cannot run here (no Docker), so a small HTTP server answers with TF Serving's REST shapes
// (api_rest.md: GET /v1/models/{m} → model_version_status, POST :predict → predictions, errors as {"error"}).

import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  assessStatus,
  pollDelayMs,
  type ReadyEvent,
  waitUntilServing,
} from "../../bootstrap/deploy/wait-ready";
import { connect } from "../../bootstrap/ssh/session";
import { ExitCode } from "../../common/errors";
import { DEFAULT_SAMPLE_IMAGE } from "../../common/paths";
import { startSshd } from "../../scripts/harness/sshd";

interface FakeModel {
  /** Answers to successive status polls; the last one repeats. */
  statuses: (number | { state: string; error_message?: string })[];
}

interface Fake {
  url: string;
  port: number;
  requests: { method: string; path: string; apiKey?: string; body?: string }[];
  close(): Promise<void>;
}

async function fakeServing(models: Record<string, FakeModel>, apiKey?: string): Promise<Fake> {
  const requests: Fake["requests"] = [];
  const polls: Record<string, number> = {};
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      const key = req.headers["x-api-key"] as string | undefined;
      requests.push({ method: req.method ?? "", path: req.url ?? "", apiKey: key, body: body || undefined });
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(json));
      };
      if (apiKey && key !== apiKey) return send(401, { error: "missing or wrong API key" });
      const m = /^\/v1\/models\/([^/:]+)(:predict)?$/.exec(req.url ?? "");
      const model = m ? models[m[1] as string] : undefined;
      if (!m || !model) return send(404, { error: `Servable not found for request: Latest(${m?.[1]})` });
      if (m[2]) {
        const instances = JSON.parse(body).instances as { b64: string }[];
        return send(200, {
          predictions: instances.map(() => ({
            num_detections: 2,
            detection_scores: [0.93, 0.61, 0],
            detection_classes: [1, 27, 0],
            detection_boxes: [
              [0.1, 0.2, 0.9, 0.7],
              [0.5, 0.5, 0.6, 0.6],
              [0, 0, 0, 0],
            ],
          })),
        });
      }
      const i = polls[m[1] as string] ?? 0;
      polls[m[1] as string] = i + 1;
      const answer = model.statuses[Math.min(i, model.statuses.length - 1)];
      if (typeof answer === "number") return send(answer, { error: "not yet" });
      const a = answer as { state: string; error_message?: string };
      return send(200, {
        model_version_status: [
          {
            version: "1",
            state: a.state,
            status: { error_code: a.error_message ? "UNKNOWN" : "OK", error_message: a.error_message ?? "" },
          },
        ],
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const fast = { pollMinMs: 20, pollMaxMs: 100 };

test("assessStatus: available, loading, failed", () => {
  expect(assessStatus({ model_version_status: [{ version: "2", state: "AVAILABLE" }] })).toEqual({
    kind: "available",
    versions: ["2"],
  });
  expect(assessStatus({ model_version_status: [{ version: "1", state: "LOADING" }] })).toEqual({
    kind: "loading",
    detail: "version 1 LOADING",
  });
  expect(assessStatus({ model_version_status: [] })).toEqual({ kind: "loading", detail: "no versions yet" });
  expect(
    assessStatus({
      model_version_status: [
        { version: "1", state: "END", status: { error_code: "UNKNOWN", error_message: "Op X" } },
      ],
    }),
  ).toEqual({ kind: "failed", message: "version 1 failed to load: Op X" });
  expect([0, 1, 2, 3, 4, 9].map((n) => pollDelayMs(n, 500, 5000))).toEqual([
    500, 1000, 2000, 4000, 5000, 5000,
  ]);
});

test("waits through 404, 502 and LOADING to AVAILABLE, then sends the sample image once per model", async () => {
  const fake = await fakeServing(
    {
      ssd_mobilenet_v2: { statuses: [404, 502, { state: "LOADING" }, { state: "AVAILABLE" }] },
      efficientdet_d0: { statuses: [{ state: "AVAILABLE" }] },
    },
    "k3y",
  );
  try {
    const events: ReadyEvent[] = [];
    const ready = await waitUntilServing(fake.url, ["ssd_mobilenet_v2", "efficientdet_d0"], {
      apiKey: "k3y",
      deadlineMs: 10_000,
      onProgress: (e) => events.push(e),
      ...fast,
    });
    expect(ready.map(({ latencyMs: _, ...r }) => r)).toEqual([
      { model: "ssd_mobilenet_v2", versions: ["1"], detections: 2, topScore: 0.93 },
      { model: "efficientdet_d0", versions: ["1"], detections: 2, topScore: 0.93 },
    ]);
    expect(events.map((e) => `${e.model}:${e.phase}`)).toEqual([
      "ssd_mobilenet_v2:waiting",
      "ssd_mobilenet_v2:waiting",
      "ssd_mobilenet_v2:waiting",
      "ssd_mobilenet_v2:available",
      "ssd_mobilenet_v2:detected",
      "efficientdet_d0:available",
      "efficientdet_d0:detected",
    ]);
    const predicts = fake.requests.filter((r) => r.method === "POST");
    expect(predicts.map((r) => r.path)).toEqual([
      "/v1/models/ssd_mobilenet_v2:predict",
      "/v1/models/efficientdet_d0:predict",
    ]);
    const sent = JSON.parse(predicts[0]?.body ?? "{}");
    expect(Buffer.from(sent.instances[0].b64, "base64").equals(readFileSync(DEFAULT_SAMPLE_IMAGE))).toBe(
      true,
    );
    expect(fake.requests.every((r) => r.apiKey === "k3y")).toBe(true);
  } finally {
    await fake.close();
  }
});

test("a version that failed to load stops the wait at once with TF Serving's message", async () => {
  const fake = await fakeServing({
    m: { statuses: [{ state: "END", error_message: "Op type not registered 'Foo'" }] },
  });
  try {
    const t0 = Date.now();
    const err = await waitUntilServing(fake.url, ["m"], { deadlineMs: 10_000, ...fast }).catch((e) => e);
    expect(err).toMatchObject({ exitCode: ExitCode.serverError });
    expect(err.message).toBe("model m: version 1 failed to load: Op type not registered 'Foo'");
    expect(Date.now() - t0).toBeLessThan(1000);
  } finally {
    await fake.close();
  }
});

test("a model that never becomes AVAILABLE times out at the deadline naming its last state", async () => {
  const fake = await fakeServing({ m: { statuses: [{ state: "LOADING" }] } });
  try {
    const t0 = Date.now();
    const err = await waitUntilServing(fake.url, ["m"], { deadlineMs: 800, ...fast }).catch((e) => e);
    expect(err).toMatchObject({ exitCode: ExitCode.timeout });
    expect(err.message).toBe("model m was not AVAILABLE within 1 s (last: version 1 LOADING)");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(800);
    expect(Date.now() - t0).toBeLessThan(2000);
  } finally {
    await fake.close();
  }
});

test("a wrong API key fails at once instead of waiting for the deadline", async () => {
  const fake = await fakeServing({ m: { statuses: [{ state: "AVAILABLE" }] } }, "right");
  try {
    const err = await waitUntilServing(fake.url, ["m"], {
      apiKey: "wrong",
      deadlineMs: 10_000,
      ...fast,
    }).catch((e) => e);
    expect(err).toMatchObject({ exitCode: ExitCode.auth });
  } finally {
    await fake.close();
  }
});

test("works through an SSH port forward to the server's loopback, as deploy uses it", async () => {
  const sshd = await startSshd();
  const fake = await fakeServing({ m: { statuses: [503, { state: "AVAILABLE" }] } });
  const session = await connect(sshd.target());
  try {
    const fwd = await session.forwardPort(fake.port);
    try {
      const [ready] = await waitUntilServing(`http://127.0.0.1:${fwd.localPort}`, ["m"], {
        deadlineMs: 10_000,
        ...fast,
      });
      expect(ready).toMatchObject({ model: "m", detections: 2 });
    } finally {
      await fwd.close();
    }
  } finally {
    await session.close();
    await fake.close();
    await sshd.stop();
  }
});
