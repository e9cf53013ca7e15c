// start.sh keeps a container whose fingerprint is unchanged: what must change it, and what must not.
import { gatewayFingerprint, servingFingerprint } from "../../serving/container-fingerprint";
import type { ServingOptions } from "../../serving/types";

const KEY = "k".repeat(32);
const base: ServingOptions = { host: "cpu", remoteDir: "/opt/odapi", models: [{ name: "a" }], apiKey: KEY };

test("the same options give the same fingerprints (a redeploy of new model versions keeps both containers)", () => {
  expect(servingFingerprint({ ...base })).toBe(servingFingerprint(base));
  expect(gatewayFingerprint({ ...base })).toBe(gatewayFingerprint(base));
  expect(servingFingerprint(base)).toMatch(/^[0-9a-f]{32}$/);
});

test("flags or configs that TF Serving reads at start change its fingerprint", () => {
  const serving = servingFingerprint(base);
  expect(servingFingerprint({ ...base, models: [{ name: "a" }, { name: "b" }] })).not.toBe(serving);
  expect(servingFingerprint({ ...base, host: "gpu" })).not.toBe(serving);
  expect(servingFingerprint({ ...base, apiKey: undefined })).not.toBe(serving);
  expect(servingFingerprint({ ...base, batching: { maxBatchSize: 8 } })).not.toBe(serving);
});

test("the gateway's port and its key change its fingerprint; without a key there is no gateway", () => {
  const gateway = gatewayFingerprint(base);
  expect(gatewayFingerprint({ ...base, publicPort: 9000 })).not.toBe(gateway);
  expect(gatewayFingerprint({ ...base, apiKey: "z".repeat(32) })).not.toBe(gateway);
  expect(gatewayFingerprint({ ...base, apiKey: undefined })).toBeUndefined();
});

test("a new TLS certificate or key restarts the gateway (nginx reads them only at start), not TF Serving", () => {
  const tls = { certPem: "CHAIN-1", keyPem: "KEY-1" };
  const withTls = gatewayFingerprint({ ...base, tls });
  expect(withTls).not.toBe(gatewayFingerprint(base));
  expect(gatewayFingerprint({ ...base, tls })).toBe(withTls);
  expect(gatewayFingerprint({ ...base, tls: { ...tls, certPem: "CHAIN-2" } })).not.toBe(withTls);
  expect(gatewayFingerprint({ ...base, tls: { ...tls, keyPem: "KEY-2" } })).not.toBe(withTls);
  expect(servingFingerprint({ ...base, tls })).toBe(servingFingerprint(base));
});
