// S3 and AWS SDK failures as OdapiErrors naming the cause and the fix (pure: takes the thrown value, returns one).
import { OdapiError } from "../../common/errors";

/** The parts of an AWS SDK v3 error (or a Node network error) this mapping reads. */
interface SdkErrorLike {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  Region?: string;
  Endpoint?: string;
  $metadata?: { httpStatusCode?: number };
  errors?: SdkErrorLike[];
}

export interface S3Where {
  bucket: string;
  region: string;
  endpoint?: string;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

function networkCode(e: SdkErrorLike): string | undefined {
  if (e.code && NETWORK_CODES.has(e.code)) return e.code;
  if (e.name === "TimeoutError" || e.name === "RequestTimeout") return "timeout";
  // Node's happy-eyeballs connect reports every address it tried in an AggregateError.
  for (const inner of e.errors ?? []) if (inner.code && NETWORK_CODES.has(inner.code)) return inner.code;
  return undefined;
}

/** An OdapiError for any S3 failure; anything unrecognised keeps its own message with the HTTP status. */
export function s3Error(err: unknown, where: S3Where): OdapiError {
  if (err instanceof OdapiError) return err;
  const e = (err ?? {}) as SdkErrorLike;
  const code = e.Code ?? e.name ?? "";
  const status = e.$metadata?.httpStatusCode;
  const s3 = `s3://${where.bucket}`;
  const at = where.endpoint ?? `S3 in ${where.region}`;
  const opts = { cause: err };
  const net = networkCode(e);
  if (net) {
    return new OdapiError(
      `cannot reach ${at} (${net})`,
      where.endpoint
        ? `check that the server at AWS_ENDPOINT_URL=${where.endpoint} runs and this machine reaches it`
        : "check this machine's internet access (proxy, firewall) and rerun; nothing was published",
      "unreachable",
      opts,
    );
  }
  if (e.name === "CredentialsProviderError" || /Could not load credentials/i.test(e.message ?? "")) {
    return new OdapiError(
      "no AWS credentials found (environment, ~/.aws/credentials profile, SSO, or instance role)",
      "set AWS_PROFILE to a configured profile, or paste the Learner Lab 'AWS Details' credentials into ~/.aws/credentials",
      "auth",
      opts,
    );
  }
  if (/^(ExpiredToken|ExpiredTokenException|TokenRefreshRequired|RequestExpired)$/.test(code)) {
    return new OdapiError(
      `the AWS session credentials have expired (${code})`,
      "get fresh credentials (Learner Lab: start the lab again and copy 'AWS Details' into ~/.aws/credentials), then rerun: files already sent are skipped",
      "auth",
      opts,
    );
  }
  if (code === "NoSuchBucket" || (code === "NotFound" && status === 404)) {
    return new OdapiError(
      `bucket ${s3} does not exist${where.endpoint ? ` at ${where.endpoint}` : ""}`,
      `create it (aws s3 mb ${s3} --region ${where.region}) or pass the right --bucket`,
      "notFound",
      opts,
    );
  }
  if (
    code === "PermanentRedirect" ||
    code === "AuthorizationHeaderMalformed" ||
    code === "IllegalLocationConstraintException" ||
    status === 301
  ) {
    const hint = e.Region
      ? ` (the bucket is in ${e.Region})`
      : e.Endpoint
        ? ` (S3 says: use ${e.Endpoint})`
        : "";
    return new OdapiError(
      `bucket ${s3} is not in region ${where.region}${hint}`,
      `set AWS_REGION to the bucket's region${e.Region ? `: export AWS_REGION=${e.Region}` : " (aws s3api get-bucket-location)"}`,
      "config",
      opts,
    );
  }
  if (/^(InvalidAccessKeyId|SignatureDoesNotMatch|InvalidToken|UnrecognizedClientException)$/.test(code)) {
    return new OdapiError(
      `S3 rejected the AWS credentials (${code})`,
      "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or the profile in use (aws sts get-caller-identity)",
      "auth",
      opts,
    );
  }
  if (code === "AccessDenied" || code === "Forbidden" || status === 403) {
    return new OdapiError(
      `access denied to ${s3} (${code || "HTTP 403"})`,
      "use credentials allowed s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on the bucket (Learner Lab: the lab's own credentials), or another bucket",
      "auth",
      opts,
    );
  }
  return new OdapiError(
    `S3 request failed: ${e.message || code || "unknown error"}${status ? ` (HTTP ${status})` : ""}`,
    "rerun with --verbose; nothing half-published is visible, and files already sent are skipped next time",
    status && status >= 500 ? "serverError" : "failure",
    opts,
  );
}
