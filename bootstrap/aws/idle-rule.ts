// The idle auto-stop rule in words, as `odapi start`, `odapi status` and the stack outputs say it (pure).

/** "stops itself after 60 min without a request" / "idle auto-stop is off" / unknown for older stacks. */
export function idleRuleText(minutes: number | undefined): string {
  if (minutes === undefined) return "idle auto-stop: unknown (stack deployed before odapi had it)";
  return minutes > 0
    ? `idle auto-stop: powers off (stopped, disk and Elastic IP kept) after ${minutes} min without a model request; odapi start brings it back`
    : "idle auto-stop: off (the instance runs until you stop it)";
}
