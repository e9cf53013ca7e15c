// The API's TLS identity: a private CA (kept in the stack state) and a server certificate it signs for the host's
// addresses. Clients trust the CA (the caCertificate output), so a re-issued server certificate needs no client change.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { CA_DAYS, RENEW_WITHIN_DAYS, SERVER_DAYS } from "../bootstrap/tls/openssl-argv";
import { OdapiError } from "../common/errors";

/** Server certificate lifetime when none is given: one year, re-issued by `pulumi up` in its last 30 days (the same
 * policy as the CA that `odapi deploy` makes: bootstrap/tls/openssl-argv.ts). */
export const DEFAULT_CERT_VALIDITY_HOURS = 24 * SERVER_DAYS;
export const CERT_EARLY_RENEWAL_HOURS = 24 * RENEW_WITHIN_DAYS;
/** The CA outlives many server certificates so that rotating one never changes what clients trust. */
export const CA_VALIDITY_HOURS = 24 * CA_DAYS;

export interface ApiCertificateArgs {
  /** IP SANs, e.g. the Elastic IP. */
  ipAddresses?: pulumi.Input<string>[];
  /** DNS SANs, e.g. odapi:domain. */
  dnsNames?: pulumi.Input<string>[];
  /** Server certificate lifetime in hours (default DEFAULT_CERT_VALIDITY_HOURS). */
  validityHours?: number;
}

export class ApiCertificate extends pulumi.ComponentResource {
  /** The private CA's certificate (PEM): what clients pass as --ca-cert / curl --cacert. */
  readonly caCertPem: pulumi.Output<string>;
  /** The server certificate (PEM). */
  readonly certPem: pulumi.Output<string>;
  /** Server certificate followed by the CA certificate: what the gateway's ssl_certificate serves. */
  readonly chainPem: pulumi.Output<string>;
  /** The server certificate's private key (PEM), always a Pulumi secret. */
  readonly privateKeyPem: pulumi.Output<string>;

  constructor(name: string, args: ApiCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("odapi:infra:ApiCertificate", name, {}, opts);
    const validityHours = args.validityHours ?? DEFAULT_CERT_VALIDITY_HOURS;
    if (!Number.isInteger(validityHours) || validityHours <= CERT_EARLY_RENEWAL_HOURS) {
      throw new OdapiError(
        `the API certificate's validityHours must be an integer above ${CERT_EARLY_RENEWAL_HOURS} (the early renewal window), got ${validityHours}`,
        `give at least ${CERT_EARLY_RENEWAL_HOURS + 1} hours, or leave it unset for ${DEFAULT_CERT_VALIDITY_HOURS}`,
        "config",
      );
    }
    const ecdsa = { algorithm: "ECDSA", ecdsaCurve: "P256" };
    const caKey = new tls.PrivateKey(`${name}-ca-key`, ecdsa, { parent: this });
    const ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: caKey.privateKeyPem,
        isCaCertificate: true,
        subject: { commonName: `odapi ${name} private CA`, organization: "object-detection-api" },
        validityPeriodHours: CA_VALIDITY_HOURS,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
      },
      { parent: this },
    );
    const serverKey = new tls.PrivateKey(`${name}-server-key`, ecdsa, { parent: this });
    const request = new tls.CertRequest(
      `${name}-server-csr`,
      {
        privateKeyPem: serverKey.privateKeyPem,
        ipAddresses: args.ipAddresses,
        dnsNames: args.dnsNames,
        subject: { commonName: `odapi ${name}`, organization: "object-detection-api" },
      },
      { parent: this },
    );
    const server = new tls.LocallySignedCert(
      `${name}-server`,
      {
        certRequestPem: request.certRequestPem,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: validityHours,
        earlyRenewalHours: CERT_EARLY_RENEWAL_HOURS,
        allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
      },
      { parent: this },
    );
    this.caCertPem = ca.certPem;
    this.certPem = server.certPem;
    // Both are always set by the provider; a program run under bare mocks (no provider state) has neither.
    this.chainPem = pulumi
      .all([server.certPem, ca.certPem])
      .apply(([leaf, root]) => joinPem(...[leaf, root].filter((b) => typeof b === "string")));
    this.privateKeyPem = pulumi.secret(serverKey.privateKeyPem);
    this.registerOutputs({
      caCertPem: this.caCertPem,
      certPem: this.certPem,
      chainPem: this.chainPem,
      privateKeyPem: this.privateKeyPem,
    });
  }
}

/** PEM blocks one after the other, each ending in a newline (nginx and OpenSSL read the chain in that order). */
export function joinPem(...blocks: string[]): string {
  return blocks.map((b) => (b.endsWith("\n") ? b : `${b}\n`)).join("");
}
