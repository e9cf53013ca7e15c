// The openssl command lines that make a private CA and a server certificate for one address (pure, tested to the
// exact argv). ECDSA P-256 like the stacks' @pulumi/tls certificates (infra/tls.ts).
import { isIP } from "node:net";

export const CA_DAYS = 3650;
export const SERVER_DAYS = 365;
/** A stored certificate is re-issued when it has fewer days left than this (like the stacks' early renewal). */
export const RENEW_WITHIN_DAYS = 30;

/** The subjectAltName value for a host: an IP SAN for an address, a DNS SAN for a name. */
export function subjectAltName(host: string): string {
  return `${isIP(host) ? "IP" : "DNS"}:${host}`;
}

/** A new P-256 private key, PEM on stdout. */
export function genKeyArgv(): string[] {
  return ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
}

/** A self-signed CA certificate for `keyFile`, PEM on stdout. */
export function caCertArgv(keyFile: string, host: string): string[] {
  return [
    "req",
    "-x509",
    "-new",
    "-sha256",
    "-key",
    keyFile,
    "-days",
    String(CA_DAYS),
    "-subj",
    `/O=object-detection-api/CN=odapi private CA for ${host}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE,pathlen:0",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ];
}

/** A certificate request for the server key, PEM on stdout. */
export function serverCsrArgv(keyFile: string, host: string): string[] {
  return ["req", "-new", "-sha256", "-key", keyFile, "-subj", `/O=object-detection-api/CN=${host}`];
}

/** The server certificate's extensions (an -extfile): the host as its SAN, usable only to serve TLS. */
export function serverExtensions(host: string): string {
  return [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth",
    `subjectAltName=${subjectAltName(host)}`,
    "",
  ].join("\n");
}

/** Signs the request in `csrFile` with the CA, PEM on stdout. `serialHex` is random per certificate. */
export function signServerArgv(p: {
  csrFile: string;
  caCertFile: string;
  caKeyFile: string;
  extFile: string;
  serialHex: string;
}): string[] {
  return [
    "x509",
    "-req",
    "-sha256",
    "-in",
    p.csrFile,
    "-CA",
    p.caCertFile,
    "-CAkey",
    p.caKeyFile,
    "-set_serial",
    `0x${p.serialHex}`,
    "-days",
    String(SERVER_DAYS),
    "-extfile",
    p.extFile,
  ];
}
