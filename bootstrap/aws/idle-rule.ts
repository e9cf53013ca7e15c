// The idle auto-stop rule: its accepted values and the words `odapi start`, `odapi status` and the stack outputs use (pure).

/** "stops itself after 60 min without a request" / "idle auto-stop is off" / unknown for older stacks. */
export function idleRuleText(minutes: number | undefined): string {
  if (minutes === undefined) return "idle auto-stop: unknown (stack deployed before odapi had it)";
  return minutes > 0
    ? `idle auto-stop: powers off (stopped, disk and Elastic IP kept) after ${minutes} min without a model request; odapi start brings it back`
    : "idle auto-stop: off (the instance runs until you stop it)";
}

/** The accepted range besides 0 (off): at least a few checks, at most a week. */
export const IDLE_STOP_MINUTES = { min: 5, max: 10_080 } as const;

/** 0 or within IDLE_STOP_MINUTES (pure). */
export function isIdleStopMinutes(n: number): boolean {
  return Number.isInteger(n) && (n === 0 || (n >= IDLE_STOP_MINUTES.min && n <= IDLE_STOP_MINUTES.max));
}
