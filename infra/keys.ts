// The login key: either an existing EC2 key pair (e.g. Learner Lab's vockey) whose private key is a stack
// secret, or an ed25519 key generated here and imported as a key pair. Either way the private key is a secret.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

export interface LoginKeyArgs {
  /** Existing key pair name; with it, existingPrivateKey is required. */
  existingKeyName?: string;
  existingPrivateKey?: pulumi.Output<string>;
  tags: Record<string, string>;
}

export class LoginKey extends pulumi.ComponentResource {
  readonly keyName: pulumi.Output<string>;
  /** OpenSSH/PEM private key text, always a Pulumi secret. */
  readonly privateKey: pulumi.Output<string>;
  /** True when this stack generated the key (the user needs the sshPrivateKey output to log in). */
  readonly generated: boolean;

  constructor(name: string, args: LoginKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("odapi:infra:LoginKey", name, {}, opts);
    if (args.existingKeyName) {
      if (!args.existingPrivateKey) throw new Error("LoginKey: an existing key pair needs its private key");
      this.generated = false;
      this.keyName = pulumi.output(args.existingKeyName);
      this.privateKey = pulumi.secret(args.existingPrivateKey);
    } else {
      this.generated = true;
      const key = new tls.PrivateKey(`${name}-key`, { algorithm: "ED25519" }, { parent: this });
      const pair = new aws.ec2.KeyPair(
        `${name}-pair`,
        { publicKey: key.publicKeyOpenssh, tags: args.tags },
        { parent: this },
      );
      this.keyName = pair.keyName;
      this.privateKey = pulumi.secret(key.privateKeyOpenssh);
    }
    this.registerOutputs({ keyName: this.keyName, privateKey: this.privateKey });
  }
}
