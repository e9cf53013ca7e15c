// Where the project's own files (samples/, model-prep/prepare.py) are, whether this code runs from the TypeScript
// tree or from its compiled copy under dist/: the nearest folder up from here that holds this package's package.json.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const PACKAGE_NAME = "object-detection-api";

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).name === PACKAGE_NAME) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no ${PACKAGE_NAME} package.json above ${from}`);
  }
}

export const PROJECT_ROOT = findProjectRoot(__dirname);

/** A file of the project, by its path from the project root. */
export function projectFile(...parts: string[]): string {
  return path.join(PROJECT_ROOT, ...parts);
}

/** The photo used when no image is given (public domain, samples/LICENSE.md). */
export const DEFAULT_SAMPLE_IMAGE = projectFile("samples", "astronaut.jpg");

/** odapi's per-user config dir: $XDG_CONFIG_HOME/odapi, else ~/.config/odapi (XDG: a relative value counts as unset). */
export function userConfigDir(env: { XDG_CONFIG_HOME?: string }, home: string): string {
  const xdg = env.XDG_CONFIG_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(home, ".config"), "odapi");
}
