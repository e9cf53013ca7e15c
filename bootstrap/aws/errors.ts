// AWS SDK failures every service shares (network; missing, expired or rejected credentials) as OdapiErrors naming
// the cause and the fix; each service's own mapping (S3 in publish/errors.ts, EC2 in ec2.ts) handles the rest. Pure.
import { OdapiError } from "../../common/errors";

/** The parts of an AWS SDK v3 error (or a Node network error) the mappings read. */
export interface SdkErrorLike {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  Region?: string;
  Endpoint?: string;
  $metadata?: { httpStatusCode?: number };
  errors?: SdkErrorLike[];
}

export interface AwsWhere {
  /** The service's name in messages: "S3", "EC2". */
  service: string;
  /** What was being reached, e.g. "S3 in us-east-1" (or the endpoint URL). */
  at: string;
  endpoint?: string;
  /** What the failure left behind, said in the network fix, e.g. "nothing was published". */
  aftermath: string;
  /** What a rerun does after fresh credentials, e.g. "files already sent are skipped". */
  rerun: string;
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

/** The error's service code ("ExpiredToken", "InvalidInstanceID.NotFound", …). */
export function sdkCode(err: unknown): string {
  const e = (err ?? {}) as SdkErrorLike;
  return e.Code ?? e.name ?? "";
}

/** An OdapiError for the failures any AWS service shares; undefined for the service's own ones. */
export function commonAwsError(err: unknown, where: AwsWhere): OdapiError | undefined {
  const e = (err ?? {}) as SdkErrorLike;
  const code = sdkCode(err);
  const opts = { cause: err };
  const net = networkCode(e);
  if (net) {
    return new OdapiError(
      `cannot reach ${where.at} (${net})`,
      where.endpoint
        ? `check that the server at AWS_ENDPOINT_URL=${where.endpoint} runs and this machine reaches it`
        : `check this machine's internet access (proxy, firewall) and rerun; ${where.aftermath}`,
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
      `get fresh credentials (Learner Lab: start the lab again and copy 'AWS Details' into ~/.aws/credentials), then rerun: ${where.rerun}`,
      "auth",
      opts,
    );
  }
  if (REJECTED_CREDENTIALS.test(code)) {
    return new OdapiError(
      `${where.service} rejected the AWS credentials (${code})`,
      "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or the profile in use (aws sts get-caller-identity)",
      "auth",
      opts,
    );
  }
  return undefined;
}

/** Credentials the service refused outright (wrong key, bad signature). */
const REJECTED_CREDENTIALS =
  /^(InvalidAccessKeyId|SignatureDoesNotMatch|InvalidToken|UnrecognizedClientException|AuthFailure|InvalidClientTokenId)$/;
