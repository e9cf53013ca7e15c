// EC2 instance type names, decoded (pure): family, size rank, GPU or ARM. Used by the Learner Lab rules.

export interface InstanceType {
  family: string;
  size: string;
  /** nano=0 … large=4, xlarge=5, 2xlarge=6 …; metal ranks above every size. */
  sizeRank: number;
}

const SIZES = ["nano", "micro", "small", "medium", "large", "xlarge"] as const;
const TYPE = /^([a-z][a-z0-9-]*)\.([a-z0-9-]+)$/;

/** Rank of a size name, or -1 when it is not one. */
export function sizeRankOf(size: string): number {
  const plain = (SIZES as readonly string[]).indexOf(size);
  if (plain >= 0) return plain;
  const multi = /^(\d+)xlarge$/.exec(size);
  if (multi) return SIZES.length - 1 + Math.log2(Number(multi[1]));
  if (size === "metal" || /^metal-\d+xl$/.test(size)) return 1000;
  return -1;
}

export function parseInstanceType(name: string): InstanceType | undefined {
  const m = TYPE.exec(name);
  if (!m) return undefined;
  const sizeRank = sizeRankOf(m[2]);
  if (sizeRank < 0 || !/\d/.test(m[1])) return undefined;
  return { family: m[1], size: m[2], sizeRank };
}

/** Graviton families (t4g, m7g, c6gn, g5g …) and a1: the serving images are x86_64 only. */
export function isArmInstanceType(name: string): boolean {
  const t = parseInstanceType(name);
  return !!t && (t.family === "a1" || /^[a-z]+\d+g[a-z]*$/.test(t.family.split("-")[0]));
}

/** NVIDIA GPU families: g3…g6e, p2…p5 (g4ad has an AMD GPU, which TF Serving's GPU image cannot use). */
export function isGpuInstanceType(name: string): boolean {
  const t = parseInstanceType(name);
  return !!t && /^(g\d+[a-z]*|p\d+[a-z]*)$/.test(t.family) && t.family !== "g4ad" && !isArmInstanceType(name);
}

/** vCPUs of an x86 type by its size: 2 up to large, 4 per xlarge (e.g. 8xlarge = 32); metal counts as 96. */
export function vcpusOf(name: string): number {
  const t = parseInstanceType(name);
  if (!t) return 0;
  if (t.sizeRank >= 1000) return 96;
  const large = sizeRankOf("large");
  return t.sizeRank <= large ? 2 : 2 * 2 ** (t.sizeRank - large);
}
