// batching.config: BatchingParameters text proto for --batching_parameters_file.
// Off by default: TF2 detection models take batch size 1, so our wrapper runs images one at a time and a
// server-side batch only adds the batch timeout to every request's latency (see serving/README.md).
import type { BatchingOptions } from "./types";

/** Defaults that suit a model that processes the images of a batch one by one. */
export const BATCHING_DEFAULTS = {
  maxBatchSize: 8,
  batchTimeoutMicros: 2000,
  maxEnqueuedBatches: 16,
  numBatchThreads: 2,
} as const;

export function renderBatchingConfig(opts: BatchingOptions): string {
  // TF Serving requires the last allowed batch size to equal max_batch_size.
  const allowed = opts.allowedBatchSizes ?? [];
  const b = {
    ...BATCHING_DEFAULTS,
    maxBatchSize: allowed[allowed.length - 1] ?? BATCHING_DEFAULTS.maxBatchSize,
    ...opts,
  };
  // Fields are google.protobuf wrapper messages, hence `{ value: N }`.
  const lines = [
    `max_batch_size { value: ${b.maxBatchSize} }`,
    `batch_timeout_micros { value: ${b.batchTimeoutMicros} }`,
    `max_enqueued_batches { value: ${b.maxEnqueuedBatches} }`,
    `num_batch_threads { value: ${b.numBatchThreads} }`,
  ];
  for (const size of allowed) lines.push(`allowed_batch_sizes: ${size}`);
  if (opts.padVariableLengthInputs) lines.push("pad_variable_length_inputs: true");
  return `${lines.join("\n")}\n`;
}
