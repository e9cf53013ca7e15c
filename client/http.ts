// A small HTTP transport on node:http(s) with keep-alive agents, a hard per-request deadline and
// transport failures turned into OdapiErrors (unreachable / timeout) that name the URL.
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import tls from "node:tls";
import { OdapiError } from "../common/errors";

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpRequestOptions {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Deadline for the whole exchange (connect + send + receive). */
  timeoutMs?: number;
  /** A keep-alive agent of the URL's protocol; the shared default agents are used otherwise. */
  agent?: http.Agent;
  /** Largest response body accepted; default 64 MiB (100 detections per image is a few KiB). */
  maxBodyBytes?: number;
  /** PEM CA certificate(s) an https server must chain to, instead of the system's; verification is never off. */
  ca?: string;
  /** Verify the certificate against this name instead of the URL's host (same checks, another name). */
  tlsServerName?: string;
}

// Keep-alive by default: status, metadata and predict calls reuse one connection (TF Serving keeps it open).
const defaultAgents = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true }),
};

/** A keep-alive agent for `protocol` with up to `maxSockets` connections (the bench uses one per worker). */
export function keepAliveAgent(protocol: string, maxSockets: number): http.Agent {
  const Agent = protocol === "https:" ? https.Agent : http.Agent;
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "ETIMEDOUT",
]);

/** OpenSSL/Node codes of a server certificate the client does not trust for this host. */
const CERTIFICATE_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Maps a socket-level failure to the error a user can act on (pure). */
export function transportError(err: NodeJS.ErrnoException, url: URL): OdapiError {
  const code = err.code ?? "";
  const where = `${url.protocol}//${url.host}`;
  if (CERTIFICATE_CODES.has(code)) {
    return new OdapiError(
      `${where} presented a TLS certificate this client does not trust (${code}: ${err.message})`,
      "pass the CA that signed it with --ca-cert FILE (the stack's caCertificate output, or the ca.crt odapi deploy printed); there is no insecure mode",
      "hostKey",
      { cause: err },
    );
  }
  if (code === "EPROTO" && /wrong version number|packet length too long/i.test(err.message)) {
    return new OdapiError(
      `${where} does not speak TLS (${err.message})`,
      "use http:// for a plain-HTTP server (odapi local), https:// for a deployed gateway",
      "unreachable",
      { cause: err },
    );
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new OdapiError(
      `cannot resolve host ${url.hostname} (${code})`,
      "check the host name in --url or the stack's apiUrl output",
      "unreachable",
      { cause: err },
    );
  }
  if (UNREACHABLE_CODES.has(code)) {
    return new OdapiError(
      `cannot reach ${where} (${code})`,
      "check that the server is running and the port is open to you (security group / firewall); after a fresh deploy, wait until `odapi status` reports the models AVAILABLE",
      "unreachable",
      { cause: err },
    );
  }
  return new OdapiError(
    `request to ${where} failed: ${err.message}`,
    "check the URL (http:// vs https://) and that it points at a TensorFlow Serving REST port",
    "unreachable",
    { cause: err },
  );
}

export function timeoutError(url: URL, timeoutMs: number): OdapiError {
  return new OdapiError(
    `no answer from ${url.protocol}//${url.host}${url.pathname} within ${timeoutMs} ms`,
    "the server may still be loading models or is overloaded: retry later or raise --timeout",
    "timeout",
  );
}

/** TLS options that check the certificate for `name` (SNI only for DNS names, as RFC 6066 requires). */
function serverNameOptions(name: string): https.RequestOptions {
  return {
    ...(isIP(name) ? {} : { servername: name }),
    checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(name, cert),
  };
}

export function httpRequest(url: URL, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const isHttps = url.protocol === "https:";
  if (!isHttps && url.protocol !== "http:") {
    return Promise.reject(
      new OdapiError(
        `unsupported URL scheme ${url.protocol} in ${url.href}`,
        "use an http:// or https:// URL",
        "usage",
      ),
    );
  }
  const body = typeof opts.body === "string" ? Buffer.from(opts.body) : opts.body;
  const headers: Record<string, string> = { ...opts.headers };
  if (body) headers["content-length"] = String(body.length);
  const request = isHttps ? https.request : http.request;
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(res as HttpResponse);
    };
    const req = request(
      url,
      {
        method: opts.method ?? "GET",
        headers,
        agent: opts.agent ?? defaultAgents[isHttps ? "https:" : "http:"],
        ...(isHttps && opts.ca ? { ca: opts.ca } : {}),
        ...(isHttps && opts.tlsServerName ? serverNameOptions(opts.tlsServerName) : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const limit = opts.maxBodyBytes ?? 64 * 1024 * 1024;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > limit) {
            finish(
              new OdapiError(
                `${url.protocol}//${url.host} sent more than ${limit} bytes for ${url.pathname}`,
                "check that --url points at a TensorFlow Serving REST port",
                "serverError",
              ),
            );
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on("end", () =>
          finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", (e) => finish(transportError(e, url)));
      },
    );
    // A dead or silent server must never hang the client: destroy the socket at the deadline.
    const timer = setTimeout(() => {
      finish(timeoutError(url, timeoutMs));
      req.destroy();
    }, timeoutMs);
    req.on("error", (e: NodeJS.ErrnoException) => finish(transportError(e, url)));
    req.end(body);
  });
}
