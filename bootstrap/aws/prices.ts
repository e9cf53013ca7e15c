// EC2 on-demand prices for the instance types the single-host stacks use, as pure data with its source and date,
// and the cost arithmetic infra (stack outputs) and the CLI (odapi status, start) share.

/** Where the numbers come from and when they were taken; prices change, so every display names them. */
export const PRICE_SOURCE = {
  url: "https://aws.amazon.com/ec2/pricing/on-demand/",
  what: "Linux, on-demand, USD per instance-hour (billed per second while running)",
  date: "2026-11-29",
  /** How the table was checked: the AWS page could not be fetched where it was written. */
  note: "values as AWS lists them; t3.large ($0.0832) and g5.xlarge ($1.006) cross-checked against 2026 third-party price lists",
} as const;

/** us-east-1 and us-west-2 (the Learner Lab regions) list the same prices for these types. */
const SAME_IN_BOTH: Record<string, number> = {
  "t2.medium": 0.0464,
  "t2.large": 0.0928,
  "t3.micro": 0.0104,
  "t3.small": 0.0208,
  "t3.medium": 0.0416,
  "t3.large": 0.0832,
  "t3.xlarge": 0.1664,
  "t3.2xlarge": 0.3328,
  "t3a.medium": 0.0376,
  "t3a.large": 0.0752,
  "m5.large": 0.096,
  "m5.xlarge": 0.192,
  "c5.large": 0.085,
  "c5.xlarge": 0.17,
  "g4dn.xlarge": 0.526,
  "g4dn.2xlarge": 0.752,
  "g5.xlarge": 1.006,
};

export const PRICED_REGIONS = ["us-east-1", "us-west-2"] as const;

/** region → instance type → USD per hour. */
export const ON_DEMAND_USD_PER_HOUR: Record<string, Record<string, number>> = Object.fromEntries(
  PRICED_REGIONS.map((region) => [region, SAME_IN_BOTH]),
);

/** USD per hour, or undefined when the table does not list that type in that region (pure). */
export function hourlyPrice(instanceType: string, region: string | undefined): number | undefined {
  return region ? ON_DEMAND_USD_PER_HOUR[region]?.[instanceType] : undefined;
}

/** Estimated cost of running from `since` to `now` at `usdPerHour`, in USD (pure; never negative). */
export function costSince(since: Date, now: Date, usdPerHour: number): number {
  return (Math.max(0, now.getTime() - since.getTime()) / 3_600_000) * usdPerHour;
}

/** "$0.526/h (≈ $384/month running)" or a sentence saying the table has no price (pure). */
export function formatHourly(instanceType: string, region: string | undefined): string {
  const usd = hourlyPrice(instanceType, region);
  if (usd === undefined)
    return `${instanceType} in ${region ?? "an unknown region"}: no price in odapi's table (see ${PRICE_SOURCE.url})`;
  return `${instanceType} in ${region}: $${usd}/h on demand (≈ $${Math.round(usd * 730)}/month running; ${PRICE_SOURCE.url}, ${PRICE_SOURCE.date})`;
}

/** "$1.23" with cents (or a tenth of a cent below a dollar, so a short run does not show $0.00). */
export function formatUsd(usd: number): string {
  return usd < 1 ? `$${usd.toFixed(3)}` : `$${usd.toFixed(2)}`;
}
