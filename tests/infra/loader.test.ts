// The program must also load under Pulumi's own TypeScript loader (vendored ts-node 7 + the project's
// TypeScript, with type checking), not only under ts-jest: that is what `pulumi up` runs.
import { spawnSync } from "node:child_process";
import path from "node:path";

test("index.ts compiles, type-checks and runs under Pulumi's vendored ts-node", () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, "fixtures/load-like-pulumi.cjs")], {
    encoding: "utf8",
    timeout: 120_000,
  });
  expect(r.stderr).toBe("");
  expect(r.stdout).toContain("apiUrl=https://192.0.2.10:8501");
  expect(r.status).toBe(0);
}, 150_000);
