import type { ClientOptions } from "../../cli/client";

/** Test client options as the CLI defaults them for `--stack cpu` (one request, no bench), with overrides. */
export function clientOptions(overrides: Partial<ClientOptions> = {}): ClientOptions {
  return {
    stack: "cpu",
    models: [],
    images: [],
    minScore: 0.5,
    out: "out",
    json: false,
    bench: false,
    requests: 1,
    concurrency: 1,
    batch: 1,
    timeoutMs: 1000,
    ...overrides,
  };
}
