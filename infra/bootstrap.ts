// Bootstrap through @pulumi/command: first wait until the host takes SSH (with the pinned host key), then run
// `odapi deploy` on this machine, which uploads/prepares the models, starts TF Serving and returns only when
// every model answers a real detection. Destroy runs `odapi stop`.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  commandLine,
  type DeployRequest,
  deployArgv,
  SSH_WAIT_SCRIPT,
  type SshEndpoint,
  stopArgv,
  stopCommandLine,
} from "./deploy-command";

export interface ModelDeploymentArgs {
  host: pulumi.Input<string>;
  port: number;
  user: string;
  /** Verified on every connection when set ("ssh-ed25519 AAAA…"). */
  hostKey?: pulumi.Input<string>;
  privateKey: pulumi.Output<string>;
  apiKey?: pulumi.Output<string>;
  /** The gateway's certificate chain and key (a secret): passed in the environment, never on the command line. */
  tls?: { certPem: pulumi.Output<string>; keyPem: pulumi.Output<string> };
  plan: DeployRequest;
  /** Content hash of everything deployed (bundle.ts): a change re-runs the deploy. */
  bundleHash: pulumi.Input<string>;
  /** Identity of the machine (instance id, or user@host:port): a new machine means a fresh deployment. */
  hostIdentity: pulumi.Input<string>;
  sshWaitMinutes: number;
  /** Project root: the commands run there (bin/odapi.cjs). */
  projectDir: string;
  /** Let destroy continue when stop fails (EC2: the instance is terminated right after). */
  tolerateStopFailure: boolean;
}

/** Seconds per SSH dial attempt while the instance boots. */
export const PER_DIAL_TIMEOUT_S = 10;

export class ModelDeployment extends pulumi.ComponentResource {
  readonly sshReady: command.remote.Command;
  readonly deploy: command.local.Command;
  /** The deploy command's JSON report (uploadedFiles, uploadedBytes, skippedFiles, models, seconds). */
  readonly report: pulumi.Output<string>;

  constructor(name: string, args: ModelDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("odapi:infra:ModelDeployment", name, {}, opts);

    // command's default is 10 dial errors × 15 s (≈ 8 s of real retries): far too short for a booting instance.
    // Unlimited dials, bounded by customTimeouts instead.
    this.sshReady = new command.remote.Command(
      `${name}-ssh-ready`,
      {
        connection: {
          host: args.host,
          port: args.port,
          user: args.user,
          privateKey: args.privateKey,
          hostKey: args.hostKey,
          dialErrorLimit: -1,
          perDialTimeout: PER_DIAL_TIMEOUT_S,
        },
        create: SSH_WAIT_SCRIPT,
        triggers: [args.hostIdentity],
      },
      {
        parent: this,
        customTimeouts: { create: `${args.sshWaitMinutes}m`, update: `${args.sshWaitMinutes}m` },
      },
    );

    const endpoint = pulumi
      .all([args.host, args.hostKey])
      .apply(([host, hostKey]): SshEndpoint => ({ host, port: args.port, user: args.user, hostKey }));
    const environment: Record<string, pulumi.Input<string>> = {
      ODAPI_SSH_KEY: args.privateKey,
      // Not read by the CLI: changing it makes Pulumi *update* this command (re-run deploy) instead of replacing
      // it. A replacement would run the delete step (odapi stop) around the new deploy and take the API down.
      ODAPI_BUNDLE_SHA256: args.bundleHash,
    };
    if (args.apiKey) environment.ODAPI_API_KEY = args.apiKey;
    if (args.tls) {
      environment.ODAPI_TLS_CERT = args.tls.certPem;
      environment.ODAPI_TLS_KEY = pulumi.secret(args.tls.keyPem);
    }

    this.deploy = new command.local.Command(
      `${name}-deploy`,
      {
        dir: args.projectDir,
        create: endpoint.apply((e) => commandLine(deployArgv(e, args.plan))),
        delete: endpoint.apply((e) =>
          stopCommandLine(stopArgv(e, args.plan.remoteDir), { tolerateFailure: args.tolerateStopFailure }),
        ),
        environment,
        // A different machine is a fresh deployment; on the same machine a changed bundle is an update.
        triggers: [args.hostIdentity],
      },
      // deleteBeforeReplace: stop on the old host before deploying anew (never stop what was just started).
      { parent: this, dependsOn: [this.sshReady], deleteBeforeReplace: true },
    );
    this.report = this.deploy.stdout;
    this.registerOutputs({ report: this.report });
  }
}
