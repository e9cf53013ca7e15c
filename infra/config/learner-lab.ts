// AWS Academy Learner Lab limits (design.md), shared by the config rules and the volume preflight.

export const LEARNER_LAB_REGIONS = ["us-east-1", "us-west-2"] as const;
export const LEARNER_LAB_MAX_VOLUME_GB = 100;
export const LEARNER_LAB_MAX_SIZE = "large";
/** Running instances and vCPUs per region (20 running instances deactivate the account). */
export const LEARNER_LAB_MAX_INSTANCES = 9;
export const LEARNER_LAB_MAX_VCPUS = 32;
/** Auto Scaling may exceed maxReplicas by one while it rebalances AZs (launch first, then terminate). */
export const REPLACEMENT_SPARE = 1;
