// The private models bucket: public access blocked, encrypted at rest, TLS-only, versioned (an overwritten or
// deleted model file can be restored). Destroy empties it: the stack owns every object in it.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { tlsOnlyBucketPolicy } from "./plan";

export interface ModelsBucketArgs {
  tags: Record<string, string>;
}

export class ModelsBucket extends pulumi.ComponentResource {
  readonly bucket: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;
  /** Resolves once the guards (public access block, encryption, policy, versioning) are in place. */
  readonly guards: pulumi.Resource[];

  constructor(name: string, args: ModelsBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("odapi:infra:ModelsBucket", name, {}, opts);
    const bucket = new aws.s3.Bucket(
      `${name}-bucket`,
      { forceDestroy: true, tags: { ...args.tags, Name: `${name}-bucket` } },
      { parent: this },
    );
    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      {
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      { parent: this },
    );
    const encryption = new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket: bucket.id,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
      },
      { parent: this },
    );
    const versioning = new aws.s3.BucketVersioning(
      `${name}-versioning`,
      { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
      { parent: this },
    );
    // After the public access block: a policy put before it could be judged public and refused.
    const policy = new aws.s3.BucketPolicy(
      `${name}-tls-only`,
      { bucket: bucket.id, policy: bucket.arn.apply(tlsOnlyBucketPolicy) },
      { parent: this, dependsOn: [publicAccess] },
    );
    this.bucket = bucket.bucket;
    this.arn = bucket.arn;
    this.guards = [publicAccess, encryption, versioning, policy];
    this.registerOutputs({ bucket: this.bucket, arn: this.arn });
  }
}
