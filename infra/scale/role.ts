// The replicas' instance profile when none is given (normal accounts only; Learner Lab forbids IAM resources and
// the preflight refuses this there): a role that can list and read the model prefix and nothing else.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { EC2_ASSUME_ROLE_POLICY, modelsReadPolicy } from "./plan";

export interface ModelsReaderArgs {
  bucketArn: pulumi.Input<string>;
  prefix: string;
  tags: Record<string, string>;
}

export class ModelsReaderProfile extends pulumi.ComponentResource {
  readonly profileName: pulumi.Output<string>;

  constructor(name: string, args: ModelsReaderArgs, opts?: pulumi.ComponentResourceOptions) {
    super("odapi:infra:ModelsReaderProfile", name, {}, opts);
    const role = new aws.iam.Role(
      `${name}-role`,
      { assumeRolePolicy: EC2_ASSUME_ROLE_POLICY, tags: args.tags },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      `${name}-read-models`,
      {
        role: role.id,
        policy: pulumi.output(args.bucketArn).apply((arn) => modelsReadPolicy(arn, args.prefix)),
      },
      { parent: this },
    );
    const profile = new aws.iam.InstanceProfile(
      `${name}-profile`,
      { role: role.name, tags: args.tags },
      { parent: this },
    );
    this.profileName = profile.name;
    this.registerOutputs({ profileName: this.profileName });
  }
}
