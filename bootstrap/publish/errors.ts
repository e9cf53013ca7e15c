// S3 and AWS SDK failures as OdapiErrors naming the cause and the fix (pure: takes the thrown value, returns one).
import { OdapiError } from "../../common/errors";
import { commonAwsError, type SdkErrorLike, sdkCode } from "../aws/errors";

export interface S3Where {
  bucket: string;
  region: string;
  endpoint?: string;
}

/** An OdapiError for any S3 failure; anything unrecognised keeps its own message with the HTTP status. */
export function s3Error(err: unknown, where: S3Where): OdapiError {
  if (err instanceof OdapiError) return err;
  const e = (err ?? {}) as SdkErrorLike;
  const code = sdkCode(err);
  const status = e.$metadata?.httpStatusCode;
  const s3 = `s3://${where.bucket}`;
  const opts = { cause: err };
  const common = commonAwsError(err, {
    service: "S3",
    at: where.endpoint ?? `S3 in ${where.region}`,
    ...(where.endpoint ? { endpoint: where.endpoint } : {}),
    aftermath: "nothing was published",
    rerun: "files already sent are skipped",
  });
  if (common) return common;
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
