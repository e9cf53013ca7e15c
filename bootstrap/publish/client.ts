// The S3 client as AWS users expect it: the SDK's credential chain (env, profile, SSO, instance role), AWS_REGION,
// and AWS_ENDPOINT_URL for S3-compatible servers (path-style, since those rarely have per-bucket DNS names).
import { S3Client } from "@aws-sdk/client-s3";
import { OdapiError } from "../../common/errors";
import { AWS_MAX_ATTEMPTS, quietSdkNodeNotice } from "../aws/client-defaults";

export interface S3Settings {
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
}

/** Region and endpoint from the environment (pure); the SDK itself reads credentials and profiles. */
export function s3SettingsFromEnv(env: NodeJS.ProcessEnv): S3Settings {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new OdapiError(
      "no AWS region set",
      "export AWS_REGION=<the bucket's region> (e.g. us-east-1, the Learner Lab default)",
      "config",
    );
  }
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  if (endpoint && !/^https?:\/\/[^/\s]+/.test(endpoint)) {
    throw new OdapiError(
      `AWS_ENDPOINT_URL ${JSON.stringify(endpoint)} is not an http(s) URL`,
      "set it to the S3-compatible server's URL, e.g. http://127.0.0.1:9000, or unset it for AWS",
      "config",
    );
  }
  return { region, ...(endpoint ? { endpoint } : {}), forcePathStyle: Boolean(endpoint) };
}

export function createS3Client(settings: S3Settings): S3Client {
  quietSdkNodeNotice();
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    maxAttempts: AWS_MAX_ATTEMPTS,
    // upload.ts gives each upload request the CRC32 of the buffer it already read; the SDK computes none of its own
    // (for a stream body it would send it as an aws-chunked trailer).
    requestChecksumCalculation: "WHEN_REQUIRED",
  });
}
