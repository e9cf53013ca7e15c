// The images the rehearsal's engine runs, built here because no registry can be reached: a Debian base from
// debootstrap, then under the exact names start.sh uses the gateway (the packages and `nginx` user of the rendered
// Dockerfile, serving/gateway-image.ts, which needs a registry and apt inside the build) and
// `tensorflow/serving:<pinned>` (+ -gpu) holding the stand-in server (tests/rehearsal/standin) and the project's
// TensorFlow. Each image carries the hash of what it was built from, and is rebuilt only when that changes: the
// engine's data root is the cache.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import path from "node:path";
import { projectFile } from "../../common/paths";
import { servingImage } from "../../serving/constants";
import {
  GATEWAY_IMAGE,
  GATEWAY_IMAGE_CMD,
  GATEWAY_IMAGE_SETUP,
  GATEWAY_PACKAGES,
} from "../../serving/gateway-image";
import { type DockerEngine, REHEARSAL_CACHE_DIR } from "./docker-engine";

const SUITE = "bookworm";
/** The gateway image's packages (nginx, its Lua module, lua-cjson), python3 for the stand-in (TensorFlow itself comes from the venv). */
const BASE_PACKAGES = ["python3", ...GATEWAY_PACKAGES];
const HASH_LABEL = "odapi.rehearsal.hash";
/** Bumped when the build steps below change in a way the hashed inputs do not show (base, derived images). */
const BASE_RECIPE = "4";
const RECIPE = "5";
const STANDIN_LIB = "/usr/lib/odapi-standin";
export const STANDIN_SOURCE = projectFile("tests", "rehearsal", "standin", "tensorflow_model_server");
const PROTOS_SOURCE = projectFile("tests", "python", "serving", "tf_serving_protos.py");
const VENV = projectFile(".venv");
const DEFAULT_MIRROR = "http://deb.debian.org/debian";

export interface RehearsalImages {
  gateway: string;
  serving: string;
  servingGpu: string;
  /** Names of the images built this time (empty on a warm run). */
  built: string[];
}

/** The Debian mirror apt uses, from the text of its sources files (deb822 or one-line form); pure. */
export function aptMirror(sources: string[]): string {
  for (const text of sources) {
    const deb822 = /^URIs:\s*(\S+)/m.exec(text);
    if (deb822 && /^Suites:.*\bbookworm\b/m.test(text) && !/security/.test(deb822[1])) return deb822[1];
    for (const line of text.split("\n")) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(line.trim());
      if (m && !/security/.test(m[1])) return m[1];
    }
  }
  return DEFAULT_MIRROR;
}

/** sha256 over the named parts, in order (pure). */
export function contentHash(parts: Record<string, string>): string {
  const h = createHash("sha256");
  for (const [k, v] of Object.entries(parts)) h.update(`${k}\0${v}\0`);
  return h.digest("hex").slice(0, 16);
}

function readSources(): string[] {
  const files = ["/etc/apt/sources.list"];
  const dir = "/etc/apt/sources.list.d";
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith(".sources") || f.endsWith(".list")) files.push(path.join(dir, f));
    }
  }
  return files.filter((f) => existsSync(f)).map((f) => readFileSync(f, "utf8"));
}

function run(argv: string[], what: string, env?: NodeJS.ProcessEnv, timeoutMs = 900_000): string {
  const r = spawnSync(argv[0], argv.slice(1), {
    env,
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) {
    throw new Error(
      `${what} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || String(r.error)).slice(-3000)}`,
    );
  }
  return r.stdout.trim();
}

function venvPython(): { version: string; sitePackages: string } {
  const python = path.join(VENV, "bin", "python");
  if (!existsSync(python)) throw new Error(`${python} is missing: run bash scripts/ensure-venv.sh`);
  const version = run(
    [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
    "the venv's python",
  );
  return { version, sitePackages: realpathSync(path.join(VENV, "lib", `python${version}`, "site-packages")) };
}

/** Builds what is missing or stale; logs one line per image built. */
export function ensureRehearsalImages(
  engine: DockerEngine,
  opts: { log?: (line: string) => void; cacheDir?: string } = {},
): RehearsalImages {
  const log = opts.log ?? (() => undefined);
  const labelOf = (image: string) =>
    engine
      .tryDocker(["image", "inspect", "--format", `{{index .Config.Labels "${HASH_LABEL}"}}`, image])
      .stdout.trim();
  const built: string[] = [];
  const timed = (image: string, build: () => void) => {
    const t0 = Date.now();
    build();
    built.push(image);
    log(`built ${image} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  };

  const baseHash = contentHash({ RECIPE: BASE_RECIPE, SUITE, packages: BASE_PACKAGES.join(",") });
  const base = `odapi-rehearsal/base:${baseHash}`;
  if (labelOf(base) !== baseHash) timed(base, () => buildBase(engine, base, baseHash, opts.cacheDir));

  const gatewayHash = contentHash({ RECIPE, base: baseHash, image: GATEWAY_IMAGE });
  if (labelOf(GATEWAY_IMAGE) !== gatewayHash) {
    timed(GATEWAY_IMAGE, () =>
      derive(engine, base, GATEWAY_IMAGE, gatewayHash, {
        shell: GATEWAY_IMAGE_SETUP,
        changes: [`CMD ${GATEWAY_IMAGE_CMD}`],
      }),
    );
  }

  const py = venvPython();
  const servingHash = contentHash({
    RECIPE,
    base: baseHash,
    standin: readFileSync(STANDIN_SOURCE, "utf8"),
    protos: readFileSync(PROTOS_SOURCE, "utf8"),
    lock: readFileSync(projectFile("requirements.lock.txt"), "utf8"),
    python: py.version,
  });
  const serving = servingImage("cpu");
  const servingGpu = servingImage("gpu");
  if (labelOf(serving) !== servingHash || labelOf(servingGpu) !== servingHash) {
    timed(serving, () => {
      const image = engine.docker([
        "run",
        "--rm",
        "--network",
        "none",
        base,
        "python3",
        "-c",
        "import sys; print('%d.%d' % sys.version_info[:2])",
      ]);
      if (image !== py.version) {
        throw new Error(
          `the image's python is ${image} but the venv's is ${py.version}: TensorFlow's wheels are built per Python version; recreate .venv with python${image} (scripts/ensure-venv.sh uses the python3 on PATH)`,
        );
      }
      derive(engine, base, serving, servingHash, {
        shell: `mkdir -p ${STANDIN_LIB}`,
        copy: [
          [STANDIN_SOURCE, "/usr/bin/tensorflow_model_server"],
          [PROTOS_SOURCE, `${STANDIN_LIB}/tf_serving_protos.py`],
          [`${py.sitePackages}/.`, `${STANDIN_LIB}/site-packages`],
        ],
        changes: ["ENV PYTHONUNBUFFERED=1", 'ENTRYPOINT ["/usr/bin/tensorflow_model_server"]', "CMD []"],
      });
      engine.docker(["tag", serving, servingGpu]);
    });
  }
  if (built.length) pruneSuperseded(engine, base);
  return { gateway: GATEWAY_IMAGE, serving, servingGpu, built };
}

/** Older bases and the untagged images a rebuild left behind: the cache keeps only what the current hashes use. */
function pruneSuperseded(engine: DockerEngine, base: string): void {
  const bases = engine
    .docker(["images", "--format", "{{.Repository}}:{{.Tag}}", "odapi-rehearsal/base"])
    .split("\n");
  const old = bases.filter((b) => b && b !== base);
  if (old.length) engine.tryDocker(["rmi", ...old]);
  engine.tryDocker(["image", "prune", "--force"]);
}

/** debootstrap a minimal Debian with BASE_PACKAGES and import it as an image. */
function buildBase(engine: DockerEngine, name: string, hash: string, cacheDir = REHEARSAL_CACHE_DIR): void {
  if (!existsSync("/usr/sbin/debootstrap"))
    throw new Error("debootstrap is missing: run 'bash .ci/run' (installs it)");
  const work = mkdtempSync(path.join(cacheDir, "build-"));
  const root = path.join(work, "root");
  try {
    const mirror = aptMirror(readSources());
    run(
      ["debootstrap", "--variant=minbase", `--include=${BASE_PACKAGES.join(",")}`, SUITE, root, mirror],
      `debootstrap ${SUITE} from ${mirror}`,
    );
    // No apt lists or caches in the image: nothing in it installs packages.
    rmSync(path.join(root, "var/cache/apt/archives"), { recursive: true, force: true });
    rmSync(path.join(root, "var/lib/apt/lists"), { recursive: true, force: true });
    run(
      [
        "bash",
        "-c",
        'set -o pipefail; tar -C "$1" -c . | docker import --change "$2" - "$3"',
        "import",
        root,
        `LABEL ${HASH_LABEL}=${hash}`,
        name,
      ],
      `docker import ${name}`,
      engine.env,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** A new image from base: one shell step (the base has no entrypoint; `changes` sets the command), files copied in, then committed with the given Dockerfile changes. */
function derive(
  engine: DockerEngine,
  base: string,
  name: string,
  hash: string,
  step: { shell: string; copy?: [string, string][]; changes: string[] },
): void {
  const container = `odapi-build-${hash}`;
  engine.tryDocker(["rm", "--force", container]);
  try {
    engine.docker(["run", "--name", container, "--network", "none", base, "/bin/sh", "-c", step.shell]);
    for (const [from, to] of step.copy ?? [])
      engine.docker(["cp", "--archive", from, `${container}:${to}`], { timeoutMs: 600_000 });
    const changes = [...step.changes, `LABEL ${HASH_LABEL}=${hash}`].flatMap((c) => ["--change", c]);
    engine.docker(["commit", ...changes, container, name], { timeoutMs: 600_000 });
  } finally {
    engine.tryDocker(["rm", "--force", container]);
  }
}
