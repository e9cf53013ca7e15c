// The typed stack configuration every other infra module works with (types only).

/** aws: one EC2 instance; host: an existing server over SSH; scale: an Auto Scaling group behind an ALB. */
export const TARGETS = ["aws", "host", "scale"] as const;
export type Target = (typeof TARGETS)[number];

export interface StackConfig {
  target: Target;
  learnerLab: boolean;
  gpu: boolean;
  instanceType: string;
  amiId?: string;
  availabilityZone?: string;
  /** undefined = automatic sizing. */
  volumeSizeGb?: number;
  keyName?: string;
  /** Whether a private key is configured; the key itself is only ever read as a Pulumi secret. */
  hasSshPrivateKey: boolean;
  sshUser: string;
  sshHost?: string;
  sshPort: number;
  hostKey?: string;
  allowedCidrs: string[];
  apiCidrs: string[];
  requireApiKey: boolean;
  models: string[];
  localModelsDir?: string;
  modelVersion: number;
  pruneOldVersions: boolean;
  remoteDir: string;
  instanceProfile?: string;
  sshWaitMinutes: number;
  /** DNS name for the API: a SAN of the stack's certificate beside the address. */
  domain?: string;
  /** Whether an own certificate and key are configured; both are only ever read as Pulumi secrets. */
  hasTlsCert: boolean;
  hasTlsKey: boolean;
  /** Power off after this many minutes without a model request; 0 = off. */
  idleStopMinutes: number;
  minReplicas: number;
  maxReplicas: number;
  /** Requests per minute per instance (ALBRequestCountPerTarget). */
  targetRequestsPerReplica: number;
  warmPool: boolean;
  scaleToZeroCron?: string;
  scaleUpCron?: string;
  acmCertificateArn?: string;
  httpListener: boolean;
  /** aws:region (or AWS_REGION / AWS_DEFAULT_REGION). */
  region?: string;
}

/** A key of the odapi namespace: the config fields, with the private key's own name instead of its presence flag. */
export type ConfigKey =
  | Exclude<keyof StackConfig, "hasSshPrivateKey" | "hasTlsCert" | "hasTlsKey" | "region">
  | "sshPrivateKey"
  | "tlsCert"
  | "tlsKey";

/** Reads one raw config value by full key ("odapi:gpu", "aws:region"), as Pulumi hands it to programs. */
export type RawConfig = (fullKey: string) => string | undefined;
