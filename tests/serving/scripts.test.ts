// The rendered host scripts: shellcheck-clean, quoting that survives bash, and their behaviour when run.
// No Docker engine runs here: the engine-less paths use the real docker client; the start/prepare logic is run
// against a recording `docker` on PATH that answers like the CLI and writes down every argv it gets.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { shellJoin, shellJoinMultiline } from "../../common/shell";
import { gatewayRunArgs, renderServingFiles, type ServingOptions, servingRunArgs } from "../../serving";
import { GATEWAY_IMAGE, renderGatewayDockerfile } from "../../serving/gateway-image";
import { pathWithout } from "../helpers/path-without";
import { removeDir, tempDirPerTest } from "../helpers/tmp";
import { describeWithDockerCli } from "./docker-cli";

const KEY = "key-0123456789abcdef0123456789abcdef";
const OPTION_SETS: [string, Omit<ServingOptions, "remoteDir">][] = [
  ["cpu, one model", { host: "cpu", models: [{ name: "ssd_mobilenet_v2" }] }],
  [
    "gpu, gateway, labels, batching",
    {
      host: "gpu",
      apiKey: KEY,
      models: [
        { name: "ssd_mobilenet_v2" },
        { name: "retinanet_resnet50_v1_fpn_640x640", labels: { stable: 1 } },
      ],
      batching: { maxBatchSize: 4 },
    },
  ],
  ["cpu, gateway, odd port", { host: "cpu", apiKey: KEY, publicPort: 8500, models: [{ name: "m.v2-x_y" }] }],
  [
    "cpu, HTTPS gateway",
    { host: "cpu", apiKey: KEY, tls: { certPem: "CHAIN", keyPem: "KEY" }, models: [{ name: "m" }] },
  ],
];

const tmp = tempDirPerTest("odapi-scripts-");

/** Writes the rendered files under dir (which is the remoteDir) with their modes. */
function writeFiles(dir: string, opts: ServingOptions): void {
  for (const f of renderServingFiles(opts)) {
    const path = join(dir, f.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.content, { mode: f.mode });
    chmodSync(path, f.mode);
  }
}

describe("shellcheck", () => {
  test.each(OPTION_SETS)("every rendered script is clean: %s", (_name, partial) => {
    for (const remoteDir of ["/opt/odapi", "/home/a user/my odapi"]) {
      const opts = { ...partial, remoteDir } as ServingOptions;
      const scripts = renderServingFiles(opts).filter((f) => f.path.endsWith(".sh"));
      expect(scripts.map((f) => f.path).sort()).toEqual(["prepare-host.sh", "start.sh", "stop.sh"]);
      for (const script of scripts) {
        const path = join(tmp(), script.path);
        writeFileSync(path, script.content);
        const r = spawnSync("shellcheck", ["--severity=style", path], { encoding: "utf8" });
        expect(`${script.path} in ${remoteDir}:\n${r.stdout}${r.stderr}`).toBe(
          `${script.path} in ${remoteDir}:\n`,
        );
        expect(r.status).toBe(0);
      }
    }
  });
});

describe("quoting", () => {
  const argv = [
    "docker",
    "run",
    "--mount",
    "type=bind,source=/a b/c's,target=/x",
    "--env",
    'A=$HOME `x` "q"',
    "",
    "ünï",
    "-",
  ];
  test.each([
    ["shellJoin", shellJoin(argv)],
    ["shellJoinMultiline", shellJoinMultiline(argv)],
  ])("%s survives bash unchanged", (_name, line) => {
    const r = spawnSync("bash", ["-c", `printf '%s\\0' ${line.replace(/^docker /, "")}`], {
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    expect(r.stdout.split("\0").slice(0, -1)).toEqual(argv.slice(1));
  });

  test("plain words stay unquoted so the scripts stay readable", () => {
    expect(shellJoin(["docker", "--publish", "127.0.0.1:8500:8500", "--env", "X=1"])).toBe(
      "docker --publish 127.0.0.1:8500:8500 --env X=1",
    );
  });
});

/** A `docker` (and `sleep`) on PATH that record argv and keep a little state like the real CLI would. */
function installShims(bin: string, state: string): void {
  mkdirSync(bin, { recursive: true });
  mkdirSync(state, { recursive: true });
  const docker = `#!/usr/bin/env bash
# Test double of the docker CLI: the engine cannot run here. Records each argv, NUL-separated, one call per line.
printf '%s\\0' "$@" >> "$SHIM_STATE/calls"; printf '\\n' >> "$SHIM_STATE/calls"
case "$1 \${2:-}" in
  "info "*) exit 0 ;;
  "--version "*) echo "Docker version 0.0.0-shim"; exit 0 ;;
  "image inspect") if [[ $3 == --format ]]; then
      [[ -e $SHIM_STATE/image-\${5//\\//_} ]] || exit 1
      case "$4" in
        "{{.Id}}") cat "$SHIM_STATE/image-\${5//\\//_}" ;;
        "{{.Created}}") echo "\${SHIM_IMAGE_CREATED:-$(date -u +%Y-%m-%dT%H:%M:%S.000000000Z)}" ;;
      esac
      exit 0
    fi
    [[ -e $SHIM_STATE/image-\${3//\\//_} ]]; exit ;;
  "pull "*) echo "sha256:pulled" >"$SHIM_STATE/image-\${2//\\//_}"; exit 0 ;;
  "build --tag") cat >"$SHIM_STATE/dockerfile-\${3//\\//_}"; echo "sha256:first" >"$SHIM_STATE/image-\${3//\\//_}"; exit 0 ;;
  "build --pull") [[ -z \${SHIM_BUILD_FAILS:-} ]] || { echo "shim: no internet" >&2; exit 1; }
    cat >"$SHIM_STATE/dockerfile-\${5//\\//_}"; echo "sha256:refreshed" >"$SHIM_STATE/image-\${5//\\//_}"; exit 0 ;;
  "container inspect") [[ -e $SHIM_STATE/container-$3 ]]; exit ;;
  "rm --force") rm "$SHIM_STATE/container-$3"; exit 0 ;;
  "network inspect") [[ -e $SHIM_STATE/network-$3 ]] && cat "$SHIM_STATE/network-$3"; exit ;;
  "network create") echo "$5" > "$SHIM_STATE/network-$3"; exit 0 ;;
  "network rm") rm "$SHIM_STATE/network-$3"; exit 0 ;;
  "run "*) [[ -z \${SHIM_RUN_FAILS:-} ]] || { echo "docker: port is already allocated" >&2; exit 125; }
    # The container remembers the id its image's tag named when it started.
    touch "$SHIM_STATE/container-$3"
    for a in "$@"; do
      [[ -e $SHIM_STATE/image-\${a//\\//_} ]] && cat "$SHIM_STATE/image-\${a//\\//_}" >"$SHIM_STATE/container-$3"
    done
    echo 0123abcd; exit 0 ;;
  "inspect --format") case "$3" in
      "{{.Id}} {{.State.Running}} {{.Image}}") [[ -e $SHIM_STATE/container-$4 ]] && echo "0123abcd true $(cat "$SHIM_STATE/container-$4")" ;;
      *) echo "\${SHIM_CONTAINER_STATE:-running 0}" ;;
    esac
    exit 0 ;;
  "logs "*) echo "shim log line"; exit 0 ;;
esac
echo "docker shim: unexpected call: $*" >&2
exit 99
`;
  writeFileSync(join(bin, "docker"), docker, { mode: 0o755 });
  writeFileSync(join(bin, "sleep"), "#!/usr/bin/env bash\nexit 0\n", { mode: 0o755 });
}

function run(script: string, env: Record<string, string>) {
  const r = spawnSync("bash", [script], { encoding: "utf8", env: { ...process.env, ...env }, cwd: "/" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The docker calls the shim saw, as argv arrays. */
function calls(state: string): string[][] {
  const file = join(state, "calls");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => line.split("\0").slice(0, -1));
}

/** The contract: exactly one stderr line `odapi-error: <problem> | fix: <remedy>`. */
function expectOneErrorLine(stderr: string, problem: RegExp): void {
  const lines = stderr.split("\n").filter((l) => l.startsWith("odapi-error:"));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^odapi-error: .+ \| fix: .+$/);
  expect(lines[0]).toMatch(problem);
}

describeWithDockerCli("no Docker engine behind the real docker client", () => {
  const noEngine = { DOCKER_HOST: "unix:///nonexistent/odapi-test/docker.sock" };

  test("start.sh stops with the engine message and exit 1", () => {
    const dir = join(tmp(), "remote dir");
    writeFiles(dir, { host: "cpu", remoteDir: dir, models: [{ name: "m" }] });
    const r = run(join(dir, "start.sh"), noEngine);
    expect(r.status).toBe(1);
    expectOneErrorLine(r.stderr, /Docker engine is not running/);
  });

  test("stop.sh reports the engine the same way", () => {
    writeFiles(tmp(), { host: "cpu", remoteDir: tmp(), models: [{ name: "m" }] });
    const r = run(join(tmp(), "stop.sh"), noEngine);
    expect(r.status).toBe(1);
    expectOneErrorLine(r.stderr, /Docker engine is not running/);
  });
});

describe("no docker command at all", () => {
  test("no docker on PATH: start.sh names the fix, stop.sh has nothing to do", () => {
    writeFiles(tmp(), { host: "cpu", remoteDir: tmp(), models: [{ name: "m" }] });
    const noDocker = pathWithout(["docker"]);
    const start = run(join(tmp(), "start.sh"), { PATH: noDocker });
    expect(start.status).toBe(1);
    expectOneErrorLine(
      start.stderr,
      new RegExp(`docker is not installed .*fix: run: sudo bash ${tmp()}/prepare-host.sh`),
    );
    const stop = run(join(tmp(), "stop.sh"), { PATH: noDocker });
    expect(stop.status).toBe(0);
    expect(stop.stdout).toContain("nothing to stop");
    removeDir(noDocker);
  });
});

describe("start.sh against the recording docker", () => {
  let remoteDir: string;
  let env: Record<string, string>;
  let state: string;
  const models = [{ name: "ssd_mobilenet_v2" }, { name: "retinanet_resnet50_v1_fpn_640x640" }];

  beforeEach(() => {
    remoteDir = join(tmp(), "odapi remote");
    state = join(tmp(), "state");
    installShims(join(tmp(), "bin"), state);
    env = { PATH: `${join(tmp(), "bin")}:/usr/bin:/bin`, SHIM_STATE: state };
  });

  function addVersion(model: string, version: string): void {
    mkdirSync(join(remoteDir, "models", model, version), { recursive: true });
    writeFileSync(join(remoteDir, "models", model, version, "saved_model.pb"), "pb");
  }

  test("a model without a numeric version dir stops it before any container is touched", () => {
    writeFiles(remoteDir, { host: "cpu", remoteDir, models });
    addVersion("ssd_mobilenet_v2", "1");
    addVersion("retinanet_resnet50_v1_fpn_640x640", ".staging-1"); // still uploading: not servable
    const r = run(join(remoteDir, "start.sh"), env);
    expect(r.status).toBe(1);
    expectOneErrorLine(r.stderr, /model retinanet_resnet50_v1_fpn_640x640 has no version directory/);
    expect(calls(state).filter((c) => c[0] === "run" || c[0] === "rm")).toEqual([]);
  });

  test("runs exactly the rendered argv, replaces old containers on rerun, locks down the key file", () => {
    const opts: ServingOptions = { host: "gpu", remoteDir, models, apiKey: KEY };
    writeFiles(remoteDir, opts);
    chmodSync(join(remoteDir, "config/gateway.conf"), 0o644);
    for (const m of models) addVersion(m.name, "1");

    const first = run(join(remoteDir, "start.sh"), env);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    const runs = calls(state).filter((c) => c[0] === "run");
    expect(runs).toEqual([servingRunArgs(opts).slice(1), gatewayRunArgs(opts)?.slice(1)]);
    expect(statSync(join(remoteDir, "config/gateway.conf")).mode & 0o777).toBe(0o600);
    expect(calls(state)).toContainEqual(["pull", "tensorflow/serving:2.20.0-gpu"]);
    expect(calls(state)).toContainEqual(["build", "--tag", GATEWAY_IMAGE, "-"]);
    expect(first.stdout).toContain("odapi: REST API on 0.0.0.0:8501 behind the API-key gateway");
    expect(first.stdout).toContain("POST /v1/models/ssd_mobilenet_v2:predict");

    rmSync(join(state, "calls"));
    const second = run(join(remoteDir, "start.sh"), env);
    expect(second.status).toBe(0);
    const verbs = calls(state)
      .filter((c) => ["run", "rm", "pull", "build"].includes(c[0]))
      .map((c) => c.slice(0, 3).join(" "));
    // Images are pulled (or built) once; containers started with the same argv, configs and image are kept.
    expect(verbs).toEqual([]);
    expect(second.stdout).toContain("odapi-serving is unchanged: kept running");
    expect(second.stdout).toContain("odapi-gateway is unchanged: kept running");
  });

  test("a gateway image 30+ days old is rebuilt from fresh packages and replaces the gateway; offline, the old one stays", () => {
    const opts: ServingOptions = { host: "cpu", remoteDir, models, apiKey: KEY };
    writeFiles(remoteDir, opts);
    for (const m of models) addVersion(m.name, "1");
    expect(run(join(remoteDir, "start.sh"), env).status).toBe(0);
    const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();
    const rerun = (extra: Record<string, string>) => {
      rmSync(join(state, "calls"));
      const r = run(join(remoteDir, "start.sh"), { ...env, ...extra });
      const verbs = calls(state)
        .filter((c) => ["run", "rm", "build"].includes(c[0]))
        .map((c) => (c[0] === "build" ? c.join(" ") : c.slice(0, 3).join(" ")));
      return { ...r, verbs };
    };
    const young = rerun({ SHIM_IMAGE_CREATED: daysAgo(29) });
    expect(young.status).toBe(0);
    expect(young.stdout).toContain(`image ${GATEWAY_IMAGE} present (built 29 days ago)`);
    expect(young.verbs).toEqual([]);

    const offline = rerun({ SHIM_IMAGE_CREATED: daysAgo(40), SHIM_BUILD_FAILS: "1" });
    expect(offline.status).toBe(0);
    expect(offline.stdout).toContain(`could not rebuild ${GATEWAY_IMAGE}`);
    expect(offline.verbs).toEqual([`build --pull --no-cache --tag ${GATEWAY_IMAGE} -`]);

    const refreshed = rerun({ SHIM_IMAGE_CREATED: daysAgo(40) });
    expect(refreshed.status).toBe(0);
    expect(refreshed.stdout).toContain(`image ${GATEWAY_IMAGE} was built 40 days ago: rebuilding it`);
    // The rebuilt image's Dockerfile is the rendered one; only the gateway moves to it, TF Serving keeps serving.
    expect(readFileSync(join(state, `dockerfile-${GATEWAY_IMAGE.replace(/\//g, "_")}`), "utf8")).toBe(
      renderGatewayDockerfile(),
    );
    expect(refreshed.verbs).toEqual([
      `build --pull --no-cache --tag ${GATEWAY_IMAGE} -`,
      "rm --force odapi-gateway",
      "run --name odapi-gateway",
    ]);
    expect(refreshed.stdout).toContain("odapi-serving is unchanged: kept running");
  });

  test("without a key, a gateway config left from an earlier deploy is deleted", () => {
    writeFiles(remoteDir, { host: "cpu", remoteDir, models, apiKey: KEY });
    writeFiles(remoteDir, { host: "cpu", remoteDir, models });
    for (const m of models) addVersion(m.name, "3");
    const r = run(join(remoteDir, "start.sh"), env);
    expect(r.status).toBe(0);
    expect(existsSync(join(remoteDir, "config/gateway.conf"))).toBe(false);
    expect(calls(state).filter((c) => c[0] === "run")).toHaveLength(1);
    expect(r.stdout).toContain("REST API on 0.0.0.0:8501 (no API key)");
  });

  test("a container that exits right away is reported with its log", () => {
    writeFiles(remoteDir, { host: "cpu", remoteDir, models });
    for (const m of models) addVersion(m.name, "1");
    const r = run(join(remoteDir, "start.sh"), { ...env, SHIM_CONTAINER_STATE: "restarting 2" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("shim log line");
    expectOneErrorLine(r.stderr, /container odapi-serving did not stay up \(state: restarting 2\)/);
  });

  test("the network gets its own block once; one from an older deploy (Docker's pick) is replaced", () => {
    writeFiles(remoteDir, { host: "cpu", remoteDir, models, apiKey: KEY });
    for (const m of models) addVersion(m.name, "1");
    writeFileSync(join(state, "network-odapi-net"), "172.18.0.0/16\n");
    expect(run(join(remoteDir, "start.sh"), env).status).toBe(0);
    const network = () => calls(state).filter((c) => c[0] === "network" && c[1] !== "inspect");
    expect(network()).toEqual([
      ["network", "rm", "odapi-net"],
      ["network", "create", "odapi-net", "--subnet", "172.29.85.0/24", "--ip-range", "172.29.85.128/25"],
    ]);
    rmSync(join(state, "calls"));
    expect(run(join(remoteDir, "start.sh"), env).status).toBe(0);
    expect(network()).toEqual([]);
  });

  test("docker run failing (port taken) gives the port fix", () => {
    writeFiles(remoteDir, { host: "cpu", remoteDir, models, publicPort: 9000 });
    for (const m of models) addVersion(m.name, "1");
    const r = run(join(remoteDir, "start.sh"), { ...env, SHIM_RUN_FAILS: "1" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("port is already allocated");
    expectOneErrorLine(r.stderr, /could not start container odapi-serving .*fix: free host port 9000/);
  });

  test("on a GPU host the docker run failure also points at the NVIDIA container toolkit", () => {
    writeFiles(remoteDir, { host: "gpu", remoteDir, models });
    for (const m of models) addVersion(m.name, "1");
    const r = run(join(remoteDir, "start.sh"), { ...env, SHIM_RUN_FAILS: "1" });
    expect(r.status).toBe(1);
    expectOneErrorLine(
      r.stderr,
      /fix: free host port 8501 .*could not select device driver.*NVIDIA container toolkit/,
    );
  });

  test("stop.sh removes what exists and is idempotent", () => {
    writeFiles(remoteDir, { host: "cpu", remoteDir, models, apiKey: KEY });
    for (const m of models) addVersion(m.name, "1");
    expect(run(join(remoteDir, "start.sh"), env).status).toBe(0);
    const first = run(join(remoteDir, "stop.sh"), env);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain("removed odapi-gateway");
    expect(first.stdout).toContain("removed odapi-serving");
    const second = run(join(remoteDir, "stop.sh"), env);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain("odapi-serving is not running");
    expect(existsSync(join(remoteDir, "models/ssd_mobilenet_v2/1/saved_model.pb"))).toBe(true);
  });
});

describe("prepare-host.sh against the recording docker", () => {
  let remoteDir: string;
  let bin: string;
  let state: string;
  let env: Record<string, string>;

  beforeEach(() => {
    remoteDir = join(tmp(), "remote");
    bin = join(tmp(), "bin");
    state = join(tmp(), "state");
    installShims(bin, state);
    env = { PATH: `${bin}:/usr/bin:/bin`, SHIM_STATE: state };
  });

  test("cpu: pulls the images once, leaves remoteDir alone, rerun changes nothing", () => {
    writeFiles(remoteDir, { host: "cpu", remoteDir, models: [{ name: "m" }], apiKey: KEY });
    const first = run(join(remoteDir, "prepare-host.sh"), env);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(calls(state).filter((c) => c[0] === "pull")).toEqual([["pull", "tensorflow/serving:2.20.0"]]);
    // The gateway image is built here from the rendered Dockerfile (read on stdin), under its hashed name.
    expect(calls(state).filter((c) => c[0] === "build")).toEqual([["build", "--tag", GATEWAY_IMAGE, "-"]]);
    expect(readFileSync(join(state, `dockerfile-${GATEWAY_IMAGE.replace(/\//g, "_")}`), "utf8")).toBe(
      renderGatewayDockerfile(),
    );
    // Runs as root next to the upload: it must not create (root-owned) dirs the SSH user uploads into.
    expect(existsSync(join(remoteDir, "models"))).toBe(false);
    rmSync(join(state, "calls"));
    const second = run(join(remoteDir, "prepare-host.sh"), env);
    expect(second.status).toBe(0);
    expect(calls(state).filter((c) => c[0] === "pull" || c[0] === "build")).toEqual([]);
    expect(second.stdout).toContain("host ready");
  });

  test("an ARM host is refused: the serving images are x86_64 only", () => {
    writeFileSync(join(bin, "uname"), "#!/usr/bin/env bash\necho aarch64\n", { mode: 0o755 });
    writeFiles(remoteDir, { host: "cpu", remoteDir, models: [{ name: "m" }] });
    const r = run(join(remoteDir, "prepare-host.sh"), env);
    expect(r.status).toBe(1);
    expectOneErrorLine(r.stderr, /CPU is aarch64.*x86_64 only .*fix: use an x86_64 instance type/);
    expect(calls(state)).toEqual([]);
  });

  test("gpu without the NVIDIA driver stops with the AMI advice", () => {
    writeFiles(remoteDir, { host: "gpu", remoteDir, models: [{ name: "m" }] });
    const r = run(join(remoteDir, "prepare-host.sh"), env);
    expect(r.status).toBe(1);
    expectOneErrorLine(r.stderr, /no NVIDIA driver .*Deep Learning Base OSS Nvidia Driver GPU AMI/);
  });

  test("gpu with a driver but no container toolkit names the toolkit", () => {
    writeFileSync(join(bin, "nvidia-smi"), "#!/usr/bin/env bash\necho 'GPU 0: Tesla T4'\n", { mode: 0o755 });
    writeFiles(remoteDir, { host: "gpu", remoteDir, models: [{ name: "m" }] });
    const r = run(join(remoteDir, "prepare-host.sh"), env);
    expect(r.status).toBe(1);
    expectOneErrorLine(r.stderr, /NVIDIA container toolkit is missing/);
  });
});
