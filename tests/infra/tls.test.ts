// ApiCertificate under Pulumi mocks: a CA that is a CA, a server certificate signed by it with the given SANs,
// the chain in serving order and the private key as a secret.
import * as pulumi from "@pulumi/pulumi";
import type { Json } from "./harness";

const created: { type: string; name: string; inputs: Record<string, Json> }[] = [];
/** Pulumi's wire form of a secret input ({ [sig]: secret-sig, value }) reduced to its value. */
function plain(v: Json): Json {
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    if ("4dabf18193072939515e22adb298388d" in v) return plain(v.value);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}
const PEM = (what: string) => `-----BEGIN CERTIFICATE-----\n${what}\n-----END CERTIFICATE-----\n`;

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        created.push({ type: args.type, name: args.name, inputs: plain(args.inputs) });
        const state: Record<string, Json> = { ...args.inputs };
        if (args.type === "tls:index/privateKey:PrivateKey") state.privateKeyPem = `KEY(${args.name})`;
        if (args.type === "tls:index/selfSignedCert:SelfSignedCert") state.certPem = PEM("CA");
        if (args.type === "tls:index/certRequest:CertRequest") state.certRequestPem = "CSR";
        if (args.type === "tls:index/locallySignedCert:LocallySignedCert") state.certPem = PEM("LEAF");
        return { id: `${args.name}-id`, state };
      },
      call: () => ({}),
    },
    "odapi",
    "tls-test",
    false,
  );
});

function value<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((done) => o.apply(done));
}

function isSecret(o: pulumi.Output<unknown>): Promise<boolean> {
  return (o as unknown as { isSecret: Promise<boolean> }).isSecret;
}

test("a private CA signs a server certificate for the given addresses; the key is a secret", async () => {
  const { ApiCertificate, CA_VALIDITY_HOURS } = await import("../../infra/tls");
  const cert = new ApiCertificate("api", {
    ipAddresses: [pulumi.output("203.0.113.10")],
    dnsNames: ["api.example.org"],
    validityHours: 2000,
  });
  expect(await value(cert.caCertPem)).toBe(PEM("CA"));
  expect(await value(cert.certPem)).toBe(PEM("LEAF"));
  expect(await value(cert.chainPem)).toBe(PEM("LEAF") + PEM("CA"));
  expect(await value(cert.privateKeyPem)).toBe("KEY(api-server-key)");
  expect(await isSecret(cert.privateKeyPem)).toBe(true);
  expect(await isSecret(cert.caCertPem)).toBe(false);

  const one = (type: string) => created.filter((r) => r.type === `tls:index/${type}`);
  const ca = one("selfSignedCert:SelfSignedCert");
  expect(ca).toHaveLength(1);
  expect(ca[0].inputs).toMatchObject({
    isCaCertificate: true,
    privateKeyPem: "KEY(api-ca-key)",
    validityPeriodHours: CA_VALIDITY_HOURS,
  });
  expect(ca[0].inputs.allowedUses).toContain("cert_signing");
  const csr = one("certRequest:CertRequest");
  expect(csr[0].inputs).toMatchObject({
    ipAddresses: ["203.0.113.10"],
    dnsNames: ["api.example.org"],
    privateKeyPem: "KEY(api-server-key)",
  });
  const leaf = one("locallySignedCert:LocallySignedCert");
  expect(leaf[0].inputs).toMatchObject({
    caPrivateKeyPem: "KEY(api-ca-key)",
    caCertPem: PEM("CA"),
    certRequestPem: "CSR",
    validityPeriodHours: 2000,
  });
  expect(leaf[0].inputs.allowedUses).toEqual(expect.arrayContaining(["server_auth"]));
  expect(leaf[0].inputs.isCaCertificate ?? false).toBe(false);
  for (const key of one("privateKey:PrivateKey"))
    expect(key.inputs).toMatchObject({ algorithm: "ECDSA", ecdsaCurve: "P256" });
});

test("a validity inside the early renewal window is refused with the value", async () => {
  const { ApiCertificate } = await import("../../infra/tls");
  expect(() => new ApiCertificate("short", { validityHours: 24 })).toThrow(/validityHours .* got 24/);
});
