// The exact docker argv for each container, and the port rules that keep gRPC and raw TF Serving private.
import { spawnSync } from "node:child_process";
import { TF_SERVING_VERSION } from "../../common/pins";
import {
  CONTAINERS,
  GATEWAY_IMAGE,
  gatewayRunArgs,
  networkCreateArgs,
  renderServingFiles,
  type ServingOptions,
  servingPorts,
  servingRunArgs,
} from "../../serving";
import { describeWithDockerCli } from "./docker-cli";

const KEY = "k3y-0123456789abcdef0123456789abcdef";
const pair = [{ name: "ssd_mobilenet_v2" }, { name: "retinanet_resnet50_v1_fpn_640x640" }];

const commonFlags = (name: string) => [
  "--name",
  name,
  "--detach",
  "--restart",
  "unless-stopped",
  "--network",
  "odapi-net",
  "--security-opt",
  "no-new-privileges",
  "--log-driver",
  "json-file",
  "--log-opt",
  "max-size=10m",
  "--log-opt",
  "max-file=3",
];

// TF Serving's fixed address on the odapi network: the gateway's upstream block names it.
const servingCommonFlags = [...commonFlags("odapi-serving"), "--ip", "172.29.85.10"];

const servingFlags = [
  "--port=8500",
  "--rest_api_port=8501",
  "--rest_api_timeout_in_ms=120000",
  "--model_config_file=/config/models.config",
  "--model_config_file_poll_wait_seconds=60",
  "--monitoring_config_file=/config/monitoring.config",
];

describe("servingRunArgs", () => {
  test("cpu without gateway: REST public on 8501, gRPC on loopback, read-only mounts, pinned image", () => {
    expect(servingRunArgs({ host: "cpu", remoteDir: "/opt/odapi", models: pair })).toEqual([
      "docker",
      "run",
      ...servingCommonFlags,
      "--publish",
      "0.0.0.0:8501:8501",
      "--publish",
      "127.0.0.1:8500:8500",
      "--mount",
      "type=bind,source=/opt/odapi/models,target=/models,readonly",
      "--mount",
      "type=bind,source=/opt/odapi/config,target=/config,readonly",
      "--entrypoint",
      "/usr/bin/tensorflow_model_server",
      "tensorflow/serving:2.20.0",
      ...servingFlags,
    ]);
  });

  test("gpu with gateway, labels and batching: --gpus all, REST only on 127.0.0.1", () => {
    const opts: ServingOptions = {
      host: "gpu",
      remoteDir: "/srv/odapi",
      apiKey: KEY,
      publicPort: 443,
      models: [{ name: "m", labels: { stable: 1 } }],
      batching: {},
    };
    expect(servingRunArgs(opts)).toEqual([
      "docker",
      "run",
      ...servingCommonFlags,
      "--publish",
      "127.0.0.1:18501:8501",
      "--publish",
      "127.0.0.1:8500:8500",
      "--mount",
      "type=bind,source=/srv/odapi/models,target=/models,readonly",
      "--mount",
      "type=bind,source=/srv/odapi/config,target=/config,readonly",
      "--gpus",
      "all",
      "--env",
      "TF_FORCE_GPU_ALLOW_GROWTH=true",
      "--entrypoint",
      "/usr/bin/tensorflow_model_server",
      "tensorflow/serving:2.20.0-gpu",
      ...servingFlags,
      "--allow_version_labels_for_unavailable_models=true",
      "--enable_batching=true",
      "--batching_parameters_file=/config/batching.config",
    ]);
  });

  test("local mode: models from another host dir, public port on loopback", () => {
    const args = servingRunArgs({
      host: "cpu",
      remoteDir: "/home/me/odapi/.odapi/local",
      modelsHostDir: "/home/me/odapi/models",
      publicBind: "127.0.0.1",
      models: pair,
    });
    expect(args).toContain("type=bind,source=/home/me/odapi/models,target=/models,readonly");
    expect(args).toContain("type=bind,source=/home/me/odapi/.odapi/local/config,target=/config,readonly");
    expect(args[args.indexOf("127.0.0.1:8501:8501") - 1]).toBe("--publish");
  });

  test("the image tag is derived from TF_SERVING_VERSION", () => {
    expect(TF_SERVING_VERSION).toBe("2.20.0");
    const gpu = servingRunArgs({ host: "gpu", remoteDir: "/o", models: pair });
    expect(gpu).toContain(`tensorflow/serving:${TF_SERVING_VERSION}-gpu`);
  });
});

describe("gatewayRunArgs", () => {
  test("absent without an API key", () => {
    expect(gatewayRunArgs({ host: "cpu", remoteDir: "/opt/odapi", models: pair })).toBeUndefined();
  });

  test("exact argv: public port → nginx 8080, its config (guard inlined) mounted read-only, key not on the command line", () => {
    const args = gatewayRunArgs({ host: "cpu", remoteDir: "/opt/odapi", models: pair, apiKey: KEY });
    expect(args).toEqual([
      "docker",
      "run",
      ...commonFlags("odapi-gateway"),
      "--publish",
      "0.0.0.0:8501:8080",
      "--mount",
      "type=bind,source=/opt/odapi/config/gateway.conf,target=/etc/nginx/nginx.conf,readonly",
      GATEWAY_IMAGE,
    ]);
    expect(JSON.stringify(args)).not.toContain(KEY);
  });

  test("with TLS: the certificate chain and the key are mounted read-only too, and no PEM is on the command line", () => {
    const tls = { certPem: "CHAIN-PEM", keyPem: "KEY-PEM" };
    const args = gatewayRunArgs({ host: "cpu", remoteDir: "/opt/odapi", models: pair, apiKey: KEY, tls });
    expect(args?.slice(-5)).toEqual([
      "--mount",
      "type=bind,source=/opt/odapi/config/gateway-tls.crt,target=/etc/nginx/odapi-tls.crt,readonly",
      "--mount",
      "type=bind,source=/opt/odapi/config/gateway-tls.key,target=/etc/nginx/odapi-tls.key,readonly",
      GATEWAY_IMAGE,
    ]);
    expect(JSON.stringify(args)).not.toMatch(/CHAIN-PEM|KEY-PEM/);
  });
});

describe("ports", () => {
  const variants: ServingOptions[] = [];
  for (const host of ["cpu", "gpu"] as const) {
    for (const apiKey of [undefined, KEY]) {
      for (const publicPort of [undefined, 80, 8500, 8501, 18501]) {
        for (const publicBind of [undefined, "127.0.0.1"]) {
          variants.push({ host, remoteDir: "/opt/odapi", models: pair, apiKey, publicPort, publicBind });
        }
      }
    }
  }

  /** [hostBinding, containerPort] for every --publish of a container. */
  function published(args: string[]): [string, number][] {
    return args.flatMap((arg, i) => {
      if (args[i - 1] !== "--publish") return [];
      const parts = arg.split(":");
      return [[parts.slice(0, -1).join(":"), Number(parts[parts.length - 1])]];
    });
  }

  test.each(
    variants.map((v) => [
      `${v.host} key=${v.apiKey ? "on" : "off"} port=${v.publicPort} bind=${v.publicBind}`,
      v,
    ]),
  )("gRPC 8500 stays on 127.0.0.1: %s", (_name, opts) => {
    const serving = published(servingRunArgs(opts));
    const grpc = serving.filter(([, port]) => port === 8500);
    expect(grpc).toHaveLength(1);
    expect(grpc[0][0]).toMatch(/^127\.0\.0\.1:\d+$/);
    const rest = serving.filter(([, port]) => port === 8501);
    expect(rest).toHaveLength(1);
    const ports = servingPorts(opts);
    if (opts.apiKey) {
      // Behind the gateway, raw TF Serving is reachable from the host only.
      expect(rest[0][0]).toBe(`127.0.0.1:${ports.internalRest}`);
      expect(published(gatewayRunArgs(opts) ?? [])).toEqual([[`${ports.publicBind}:${ports.public}`, 8080]]);
    } else {
      expect(rest[0][0]).toBe(`${opts.publicBind ?? "0.0.0.0"}:${opts.publicPort ?? 8501}`);
    }
    expect(new Set([ports.public, ports.internalRest, ports.grpc]).size).toBe(opts.apiKey ? 3 : 2);
    expect(servingRunArgs(opts)).not.toContain("--publish-all");
  });

  test("servingPorts: public default 8501, internal REST 18501 behind the gateway", () => {
    expect(servingPorts({ host: "cpu", remoteDir: "/o", models: pair })).toEqual({
      public: 8501,
      internalRest: 8501,
      grpc: 8500,
      publicBind: "0.0.0.0",
    });
    expect(
      servingPorts({ host: "cpu", remoteDir: "/o", models: pair, apiKey: KEY, publicPort: 18501 }),
    ).toEqual({
      public: 18501,
      internalRest: 18502,
      grpc: 8500,
      publicBind: "0.0.0.0",
    });
  });
});

test("the API key appears in the gateway config only", () => {
  const files = renderServingFiles({ host: "gpu", remoteDir: "/opt/odapi", models: pair, apiKey: KEY });
  const withKey = files.filter((f) => f.content.includes(KEY)).map((f) => f.path);
  expect(withKey).toEqual(["config/gateway.conf"]);
  expect(CONTAINERS.gateway).toBe("odapi-gateway");
});

// The real docker CLI parses flags, --mount specs, --publish specs and --gpus before it contacts the engine. Pointed
// at a socket that does not exist, it reaches "Cannot connect" only when every flag was accepted.
describeWithDockerCli("the real docker client accepts the argv (no engine needed)", () => {
  const env = { ...process.env, DOCKER_HOST: "unix:///nonexistent/odapi-test/docker.sock" };
  const parse = (argv: string[]) =>
    spawnSync(argv[0], argv.slice(1), { encoding: "utf8", env, timeout: 20_000 });
  const reachedEngine = /Cannot connect to the Docker daemon/;

  test.each<[string, ServingOptions]>([
    ["cpu", { host: "cpu", remoteDir: "/opt/odapi", models: pair }],
    [
      "gpu + gateway + labels + batching",
      {
        host: "gpu",
        remoteDir: "/srv/a b",
        models: [{ name: "m", labels: { s: 1 } }],
        apiKey: KEY,
        batching: {},
      },
    ],
    [
      "local mode",
      {
        host: "cpu",
        remoteDir: "/w/.odapi/local",
        modelsHostDir: "/w/models",
        publicBind: "127.0.0.1",
        models: pair,
        publicPort: 9000,
      },
    ],
  ])("%s", (_name, opts) => {
    for (const argv of [servingRunArgs(opts), gatewayRunArgs(opts)].filter(
      (a): a is string[] => a !== undefined,
    )) {
      const r = parse(argv);
      expect(r.stderr).toMatch(reachedEngine);
      expect(r.stderr).not.toMatch(/invalid|unknown flag/i);
    }
  });

  test("the odapi network with its own block and dynamic range", () => {
    expect(networkCreateArgs()).toEqual([
      "docker",
      "network",
      "create",
      "odapi-net",
      "--subnet",
      "172.29.85.0/24",
      "--ip-range",
      "172.29.85.128/25",
    ]);
    const r = parse(networkCreateArgs());
    expect(r.stderr).toMatch(reachedEngine);
    expect(r.stderr).not.toMatch(/invalid|unknown flag/i);
  });

  test("and rejects a broken one (the check can fail)", () => {
    const broken = servingRunArgs({ host: "gpu", remoteDir: "/opt/odapi", models: pair }).map((a) =>
      a === "all" ? "every" : a,
    );
    const r = parse(broken);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/invalid argument "every" for "--gpus"/);
  });
});
