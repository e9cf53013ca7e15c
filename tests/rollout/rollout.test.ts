// The local rollout rehearsal: three replicas (the real rendered gateway in real nginx, in front of a TF Serving
// stand-in) behind a real HAProxy whose active health checks use the gateway's /healthz, as the scale stack's ALB
// does. A client posts keyed predictions through the load balancer the whole time while every replica loads a new
// model version (LOADING beside the old, then AVAILABLE) one by one, and one replica is replaced the way an instance
// refresh does it (drained, terminated, a new one that starts LOADING): not one request may fail.
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { predictRequestBody } from "../../client/request";
import {
  type Haproxy,
  parseShowStat,
  renderHaproxyConfig,
  startHaproxy,
} from "../../scripts/harness/haproxy";
import { type HostGateway, startHostGateway } from "../../scripts/harness/host-nginx";
import { postPredict } from "../../scripts/harness/predict-request";
import { type FakeServing, startFakeTfServing } from "../helpers/fake-tf-serving";

const KEY = "rollout-key-0123456789abcdef0123456789";
const MODEL = "detector";
const NAMES = ["r1", "r2", "r3"];
const BODY = JSON.stringify(
  predictRequestBody([readFileSync(path.join(__dirname, "../../samples/chelsea.jpg"))]),
);
/** Client workers, and their pause between requests: ~150 requests/s in all, below the gateway's 200/s per address. */
const WORKERS = 3;
const PAUSE_MS = 15;
/** Upper bounds of the client loop, whatever happens. */
const MAX_REQUESTS = 20_000;
const MAX_CLIENT_MS = 90_000;

interface Replica {
  fake: FakeServing;
  gateway: HostGateway;
}

async function startReplica(
  version: number,
  state: "AVAILABLE" | "LOADING",
  port?: number,
): Promise<Replica> {
  const fake = await startFakeTfServing({ models: [{ name: MODEL, version, state }], delayMs: 2 });
  const gateway = await startHostGateway({
    apiKey: KEY,
    upstream: `127.0.0.1:${fake.port}`,
    maxBodyBytes: 1024 * 1024,
    models: [MODEL],
    ...(port ? { port } : {}),
  });
  return { fake, gateway };
}

async function stopReplica(r: Replica): Promise<void> {
  await r.gateway.stop();
  await r.fake.close();
}

interface Outcome {
  status: number;
  error?: string;
}

/** Keyed predictions through the load balancer until stopped (bounded in count and time). */
function startClient(port: number) {
  const outcomes: Outcome[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: WORKERS });
  let stopped = false;
  const started = Date.now();
  const one = async (): Promise<Outcome> => {
    const r = await postPredict({ port, apiKey: KEY, model: MODEL, body: BODY, agent });
    if (r.status !== 200) return { status: r.status, error: r.error ?? r.body.slice(0, 200) };
    // A 200 must carry one detection result, not some other page.
    return JSON.parse(r.body).predictions?.length === 1
      ? { status: 200 }
      : { status: 200, error: r.body.slice(0, 200) };
  };
  const worker = async () => {
    while (!stopped && outcomes.length < MAX_REQUESTS && Date.now() - started < MAX_CLIENT_MS) {
      outcomes.push(await one());
      await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
  };
  const running = Promise.all(Array.from({ length: WORKERS }, worker));
  return {
    outcomes,
    stop: async () => {
      stopped = true;
      await running;
      agent.destroy();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const v = (r: Replica, version: number) => r.fake.predictCallsByVersion.get(`${MODEL}/${version}`) ?? 0;

describe("the rehearsal's load balancer config", () => {
  test("checks every server with GET /healthz expecting 200, loopback only", () => {
    const cfg = renderHaproxyConfig({
      servers: [{ name: "r1", port: 4001 }],
      listenPort: 4000,
      socket: "/s",
    });
    expect(cfg).toContain("http-check send meth GET uri /healthz\n  http-check expect status 200");
    expect(cfg).toContain("bind 127.0.0.1:4000");
    expect(cfg).toContain("server r1 127.0.0.1:4001 check");
  });

  test("reads the backend's servers from show stat", () => {
    const csv =
      "# pxname,svname,qcur,qmax,scur,smax,slim,stot,status\napi,FRONTEND,,,1,2,,9,OPEN\nreplicas,r1,0,0,2,3,,40,UP\nreplicas,r2,0,0,0,1,,7,DOWN 1/2\nreplicas,BACKEND,0,0,2,3,,47,UP\n";
    expect(parseShowStat(csv)).toEqual([
      { name: "r1", status: "UP", current: 2, total: 40 },
      { name: "r2", status: "DOWN 1/2", current: 0, total: 7 },
    ]);
  });
});

describe("rolling a new model version and an instance refresh through a health-checked load balancer", () => {
  const replicas: Replica[] = [];
  let lb: Haproxy;

  afterAll(async () => {
    await lb?.stop();
    for (const r of replicas) await stopReplica(r);
  });

  test("zero failed requests; every replica served, and only the new version at the end", async () => {
    for (let i = 0; i < NAMES.length; i++) replicas.push(await startReplica(1, "AVAILABLE"));
    lb = await startHaproxy({ servers: NAMES.map((name, i) => ({ name, port: replicas[i].gateway.port })) });
    for (const name of NAMES) await lb.waitForStatus(name, /^UP$/, 10_000);

    const client = startClient(lb.port);
    try {
      await sleep(500);
      // A model change through S3 and the sync agents: TF Serving loads v2 beside v1, then unloads v1.
      for (const r of replicas) {
        r.fake.setVersions(MODEL, [
          { version: 2, state: "LOADING" },
          { version: 1, state: "AVAILABLE" },
        ]);
        await sleep(400);
        r.fake.setVersions(MODEL, [
          { version: 2, state: "AVAILABLE" },
          { version: 1, state: "AVAILABLE" },
        ]);
        await sleep(200);
        r.fake.setVersions(MODEL, [{ version: 2, state: "AVAILABLE" }]);
        await sleep(300);
      }
      for (const r of replicas) expect([v(r, 1), v(r, 2)].every((n) => n > 0)).toBe(true);

      // An instance refresh of r2: deregistered and drained, terminated, replaced by a new instance still loading.
      await lb.drain("r2", 10_000);
      const old = replicas[1];
      await stopReplica(old);
      await lb.waitForStatus("r2", /^DOWN/, 10_000);
      const fresh = await startReplica(2, "LOADING", old.gateway.port);
      replicas[1] = fresh;
      await lb.undrain("r2");
      await sleep(1500);
      // While it loads, its health checks fail (503), so the balancer keeps it out: health GETs, no predictions.
      expect((await lb.stats()).find((s) => s.name === "r2")?.status).toMatch(/^DOWN/);
      expect(fresh.fake.requests.some((q) => q.path === `/v1/models/${MODEL}`)).toBe(true);
      expect(fresh.fake.predictCalls.get(MODEL) ?? 0).toBe(0);
      fresh.fake.setVersions(MODEL, [{ version: 2, state: "AVAILABLE" }]);
      await lb.waitForStatus("r2", /^UP$/, 10_000);

      // Traffic after the rollout: every replica answers, only with v2.
      const before = replicas.map((r) => [v(r, 1), v(r, 2)]);
      await sleep(1500);
      const after = replicas.map((r) => [v(r, 1), v(r, 2)]);
      for (let i = 0; i < replicas.length; i++) {
        expect([NAMES[i], after[i][0] - before[i][0]]).toEqual([NAMES[i], 0]);
        expect(after[i][1] - before[i][1]).toBeGreaterThan(0);
      }
    } finally {
      await client.stop();
    }
    const failed = client.outcomes.filter((o) => o.status !== 200 || o.error !== undefined);
    expect(failed).toEqual([]);
    expect(client.outcomes.length).toBeGreaterThan(300);
    const served = replicas.map((r) => r.fake.predictCalls.get(MODEL) ?? 0);
    expect(served.every((n) => n > 0)).toBe(true);
  }, 150_000);
});
