// Which AMI a stack boots (pure): looked up by name with aws.ec2.getAmi, because Learner Lab may block the SSM
// public parameters that usually publish AMI ids (design.md).
import type { HostKind } from "../serving";

/** Canonical's AWS account: the official Ubuntu images. */
export const CANONICAL_OWNER = "099720109477";
/** Ubuntu 22.04 LTS, x86_64; hvm-ssd* matches both the gp2 and gp3 image lines. */
export const UBUNTU_2204_NAME = "ubuntu/images/hvm-ssd*/ubuntu-jammy-22.04-amd64-server-*";
/** AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04): NVIDIA driver, Docker and the container toolkit. */
export const DLAMI_GPU_NAME = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *";

export interface AmiQuery {
  owners: string[];
  mostRecent: true;
  filters: { name: string; values: string[] }[];
}

export function amiQuery(host: HostKind): AmiQuery {
  const common = [
    { name: "architecture", values: ["x86_64"] },
    { name: "virtualization-type", values: ["hvm"] },
    { name: "root-device-type", values: ["ebs"] },
    { name: "state", values: ["available"] },
  ];
  return host === "gpu"
    ? {
        owners: ["amazon"],
        mostRecent: true,
        filters: [{ name: "name", values: [DLAMI_GPU_NAME] }, ...common],
      }
    : {
        owners: [CANONICAL_OWNER],
        mostRecent: true,
        filters: [{ name: "name", values: [UBUNTU_2204_NAME] }, ...common],
      };
}

/** Size of the AMI's root snapshot in GB (the smallest root volume it can boot with), 8 when it does not say. */
export function amiRootSizeGb(ami: {
  rootDeviceName?: string;
  blockDeviceMappings?: { deviceName?: string; ebs?: Record<string, string | undefined> }[];
}): number {
  const root =
    ami.blockDeviceMappings?.find((m) => m.deviceName === ami.rootDeviceName) ?? ami.blockDeviceMappings?.[0];
  const size = Number(root?.ebs?.volume_size ?? root?.ebs?.volumeSize);
  return Number.isFinite(size) && size > 0 ? size : 8;
}
