// The deploy's TLS identity: the exact openssl command lines, what makes a certificate/key pair unusable for a host,
// and the per-user private CA (made once, reused, re-issued under the same CA near its end).
import { X509Certificate } from "node:crypto";
import { readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import {
  ensureGeneratedTls,
  GENERATED_FILES,
  generatedTlsDir,
  tlsIdentityProblem,
} from "../../bootstrap/tls/identity";
import {
  caCertArgv,
  genKeyArgv,
  serverCsrArgv,
  serverExtensions,
  signServerArgv,
  subjectAltName,
} from "../../bootstrap/tls/openssl-argv";
import { deployTls } from "../../cli/deploy-tls";
import { ExitCode } from "../../common/errors";
import { tempDirPerTest } from "../helpers/tmp";

const DAY = 24 * 3600 * 1000;

describe("openssl command lines", () => {
  test("keys, CA, request, extensions and signing, exactly", () => {
    expect(genKeyArgv()).toEqual(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    expect(caCertArgv("ca.key", "203.0.113.7")).toEqual([
      "req",
      "-x509",
      "-new",
      "-sha256",
      "-key",
      "ca.key",
      "-days",
      "3650",
      "-subj",
      "/O=object-detection-api/CN=odapi private CA for 203.0.113.7",
      "-addext",
      "basicConstraints=critical,CA:TRUE,pathlen:0",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    expect(serverCsrArgv("server.key", "api.example.org")).toEqual([
      "req",
      "-new",
      "-sha256",
      "-key",
      "server.key",
      "-subj",
      "/O=object-detection-api/CN=api.example.org",
    ]);
    expect(serverExtensions("2001:db8::1")).toBe(
      "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:2001:db8::1\n",
    );
    expect(subjectAltName("api.example.org")).toBe("DNS:api.example.org");
    expect(
      signServerArgv({
        csrFile: "s.csr",
        caCertFile: "ca.crt",
        caKeyFile: "ca.key",
        extFile: "s.ext",
        serialHex: "0a",
      }),
    ).toEqual([
      "x509",
      "-req",
      "-sha256",
      "-in",
      "s.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-set_serial",
      "0x0a",
      "-days",
      "365",
      "-extfile",
      "s.ext",
    ]);
  });
});

describe("the per-user private CA", () => {
  const dir = tempDirPerTest("odapi-tls-id-");

  test("made once with the right modes and names, a valid chain, then reused", () => {
    const where = path.join(dir(), "tls", "203.0.113.7");
    const first = ensureGeneratedTls("203.0.113.7", where);
    expect(first.issued).toBe(true);
    expect(first.caFile).toBe(path.join(where, GENERATED_FILES.caCert));
    expect(statSync(where).mode & 0o777).toBe(0o700);
    expect(statSync(first.caFile).mode & 0o777).toBe(0o644);
    for (const secret of [GENERATED_FILES.caKey, GENERATED_FILES.key])
      expect(statSync(path.join(where, secret)).mode & 0o777).toBe(0o600);
    const leaf = new X509Certificate(first.identity.certPem);
    const ca = new X509Certificate(readFileSync(first.caFile, "utf8"));
    expect(leaf.subjectAltName).toBe("IP Address:203.0.113.7");
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(ca.ca).toBe(true);
    // The served chain is leaf then CA.
    expect(first.identity.certPem.endsWith(readFileSync(first.caFile, "utf8"))).toBe(true);
    expect(tlsIdentityProblem(first.identity, "203.0.113.7")).toBeUndefined();

    const again = ensureGeneratedTls("203.0.113.7", where);
    expect(again.issued).toBe(false);
    expect(again.identity).toEqual(first.identity);

    // Without the server certificate: a new one under the same CA (clients keep their ca.crt).
    rmSync(path.join(where, GENERATED_FILES.cert));
    const reissued = ensureGeneratedTls("203.0.113.7", where);
    expect(reissued.issued).toBe(true);
    expect(readFileSync(reissued.caFile, "utf8")).toBe(readFileSync(first.caFile, "utf8"));
    expect(reissued.identity.certPem).not.toBe(first.identity.certPem);
    expect(new X509Certificate(reissued.identity.certPem).verify(ca.publicKey)).toBe(true);
  });

  test("what makes a pair unusable: not PEM, another key, another host, expired, not yet valid", () => {
    const a = ensureGeneratedTls("127.0.0.1", path.join(dir(), "a")).identity;
    const b = ensureGeneratedTls("127.0.0.1", path.join(dir(), "b")).identity;
    expect(tlsIdentityProblem({ certPem: "x", keyPem: a.keyPem }, "127.0.0.1")).toMatch(/no PEM certificate/);
    expect(tlsIdentityProblem({ certPem: a.certPem, keyPem: "x" }, "127.0.0.1")).toMatch(
      /no PEM private key/,
    );
    expect(tlsIdentityProblem({ certPem: a.certPem, keyPem: b.keyPem }, "127.0.0.1")).toMatch(
      /does not belong to the certificate/,
    );
    expect(tlsIdentityProblem(a, "203.0.113.9")).toMatch(
      /is not for 203\.0\.113\.9 \(its names: IP Address:127\.0\.0\.1\)/,
    );
    expect(tlsIdentityProblem(a, "127.0.0.1", Date.now() + 400 * DAY)).toMatch(/expired on/);
    expect(tlsIdentityProblem(a, "127.0.0.1", Date.now() - 2 * DAY)).toMatch(/not valid before/);
  });

  test("generatedTlsDir: per user under $XDG_CONFIG_HOME/odapi/tls/<host>, names made path-safe", () => {
    expect(generatedTlsDir("203.0.113.7", { XDG_CONFIG_HOME: "/x/cfg" }, "/home/ana")).toBe(
      "/x/cfg/odapi/tls/203.0.113.7",
    );
    expect(generatedTlsDir("2001:db8::1", {}, "/home/ana")).toBe("/home/ana/.config/odapi/tls/2001_db8__1");
  });
});

describe("deployTls: which certificate a deploy uses", () => {
  const dir = tempDirPerTest("odapi-tls-deploy-");
  const key = "a-key-0123456789abcdef";

  test("no API key, no certificate: plain HTTP (no gateway); a certificate alone is refused", () => {
    expect(deployTls({ host: "127.0.0.1", env: {} })).toEqual({});
    const err = (() => {
      try {
        deployTls({ host: "127.0.0.1", env: { ODAPI_TLS_CERT: "c", ODAPI_TLS_KEY: "k" } });
      } catch (e) {
        return e as { exitCode: number; message: string };
      }
    })();
    expect(err?.exitCode).toBe(ExitCode.usage);
    expect(err?.message).toMatch(/without an API key/);
  });

  test("the env pair (how the stacks pass theirs) is checked like files; one of the two alone is refused", () => {
    const id = ensureGeneratedTls("127.0.0.1", path.join(dir(), "id")).identity;
    const env = { ODAPI_TLS_CERT: id.certPem, ODAPI_TLS_KEY: id.keyPem };
    expect(deployTls({ apiKey: key, host: "127.0.0.1", env }).identity).toEqual(id);
    expect(() => deployTls({ apiKey: key, host: "192.0.2.1", env })).toThrow(
      /ODAPI_TLS_CERT\/ODAPI_TLS_KEY: the certificate is not for 192\.0\.2\.1/,
    );
    expect(() => deployTls({ apiKey: key, host: "127.0.0.1", env: { ODAPI_TLS_KEY: id.keyPem } })).toThrow(
      /ODAPI_TLS_KEY is set without ODAPI_TLS_CERT/,
    );
  });

  test("with a key and nothing given: the private CA in the given dir", () => {
    const made = deployTls({
      apiKey: key,
      host: "127.0.0.1",
      env: {},
      generatedDir: path.join(dir(), "gen"),
    });
    expect(made.caFile).toBe(path.join(dir(), "gen", "ca.crt"));
    expect(made.issued).toBe(true);
    expect(made.identity && tlsIdentityProblem(made.identity, "127.0.0.1")).toBeUndefined();
  });
});
