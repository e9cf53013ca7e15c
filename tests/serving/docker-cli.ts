// Whether this machine has a docker client: some tests use the real CLI (with no engine behind it).
// CI machines set up by .ci/run have none; there those tests are reported as skipped.
import { spawnSync } from "node:child_process";

export const hasDockerCli = spawnSync("docker", ["--version"], { encoding: "utf8" }).status === 0;
export const describeWithDockerCli = hasDockerCli ? describe : describe.skip;
