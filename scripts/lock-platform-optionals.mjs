#!/usr/bin/env node
// Adds lock entries for other platforms' optional native packages (biome, unrs-resolver, …) that npm left out
// because the registry it resolved against did not serve them; without them `npm ci` refuses the lock
// ("Missing: … from lock file") on every machine. Run after `npm install` changes package-lock.json.
import { readFileSync, writeFileSync } from "node:fs";

const OS = [
  "android",
  "darwin",
  "linux",
  "win32",
  "freebsd",
  "openharmony",
  "netbsd",
  "openbsd",
  "sunos",
  "aix",
];
const CPU = ["arm64", "x64", "arm", "ia32", "loong64", "ppc64", "riscv64", "s390x", "wasm32"];

/** os / cpu / libc of a platform package, read from its name (e.g. @biomejs/cli-linux-x64-musl). */
export function platformOf(name) {
  const parts = name.split("/").pop().split("-");
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.find((p) => CPU.includes(p));
  if (!os || !cpu) return undefined;
  const libcPart = parts.find((p) => p.startsWith("musl") || p.startsWith("gnu"));
  const libc = os === "linux" && libcPart ? (libcPart.startsWith("musl") ? "musl" : "glibc") : undefined;
  return { os, cpu, libc };
}

const file = process.argv[2] ?? "package-lock.json";
const lock = JSON.parse(readFileSync(file, "utf8"));
const added = [];
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    const nested = `${path}/node_modules/${name}`;
    if (lock.packages[key] || lock.packages[nested] || !/^\d+\.\d+\.\d+/.test(spec)) continue;
    const platform = platformOf(name);
    if (!platform) continue;
    lock.packages[key] = {
      version: spec,
      cpu: [platform.cpu],
      ...(entry.dev ? { dev: true } : {}),
      ...(platform.libc ? { libc: [platform.libc] } : {}),
      optional: true,
      os: [platform.os],
    };
    added.push(`${name}@${spec}`);
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(
  added.length ? `added ${added.length} lock entries:\n  ${added.join("\n  ")}` : "lock already complete",
);
