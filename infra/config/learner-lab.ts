// AWS Academy Learner Lab limits (design.md), shared by the config rules and the volume preflight.

export const LEARNER_LAB_REGIONS = ["us-east-1", "us-west-2"] as const;
export const LEARNER_LAB_MAX_VOLUME_GB = 100;
export const LEARNER_LAB_MAX_SIZE = "large";
