// Which certificate `odapi deploy` gives the API-key gateway: --tls-cert/--tls-key files, the ODAPI_TLS_CERT /
// ODAPI_TLS_KEY env (PEM text: how the Pulumi stacks pass theirs, never on argv), or else a private CA made here.
import { ensureGeneratedTls, readTlsIdentity, tlsIdentityProblem } from "../bootstrap/tls/identity";
import { OdapiError } from "../common/errors";
import type { TlsIdentity } from "../serving";

export const TLS_CERT_ENV = "ODAPI_TLS_CERT";
export const TLS_KEY_ENV = "ODAPI_TLS_KEY";

export interface DeployTls {
  identity?: TlsIdentity;
  /** Set when odapi made (or reused) its own CA: the file clients pass as --ca-cert / curl --cacert. */
  caFile?: string;
  /** True when that CA or certificate was made by this run. */
  issued?: boolean;
}

export interface DeployTlsInput {
  certFile?: string;
  keyFile?: string;
  apiKey?: string;
  host: string;
  env: NodeJS.ProcessEnv;
  /** Where a generated CA goes (default: the per-user config dir). */
  generatedDir?: string;
}

/** The gateway's TLS for this deploy; HTTPS whenever there is a gateway, plain HTTP only without one. */
export function deployTls(i: DeployTlsInput): DeployTls {
  if (Boolean(i.certFile) !== Boolean(i.keyFile)) {
    throw new OdapiError(
      `${i.certFile ? "--tls-cert" : "--tls-key"} was given without ${i.certFile ? "--tls-key" : "--tls-cert"}`,
      "pass both (the certificate chain and its private key), or neither to let odapi make a private CA",
      "usage",
    );
  }
  const envCert = i.env[TLS_CERT_ENV] || undefined;
  const envKey = i.env[TLS_KEY_ENV] || undefined;
  if (Boolean(envCert) !== Boolean(envKey)) {
    throw new OdapiError(
      `${envCert ? TLS_CERT_ENV : TLS_KEY_ENV} is set without ${envCert ? TLS_KEY_ENV : TLS_CERT_ENV}`,
      "set both (PEM certificate chain and PEM key) or neither",
      "usage",
    );
  }
  const given = Boolean(i.certFile || envCert);
  if (!i.apiKey) {
    if (given) {
      throw new OdapiError(
        "a TLS certificate was given without an API key: TLS is served by the API-key gateway",
        "set ODAPI_API_KEY (the gateway's key) for this deploy, or drop the certificate",
        "usage",
      );
    }
    return {};
  }
  if (i.certFile && i.keyFile) return { identity: readTlsIdentity(i.certFile, i.keyFile, i.host) };
  if (envCert && envKey) {
    const identity = { certPem: envCert, keyPem: envKey };
    const problem = tlsIdentityProblem(identity, i.host);
    if (problem) {
      throw new OdapiError(
        `${TLS_CERT_ENV}/${TLS_KEY_ENV}: ${problem}`,
        `give a PEM certificate for ${i.host} and its key (a stack's odapi:tlsCert/odapi:tlsKey), or unset both`,
        "config",
      );
    }
    return { identity };
  }
  const made = ensureGeneratedTls(i.host, i.generatedDir);
  return { identity: made.identity, caFile: made.caFile, issued: made.issued };
}
