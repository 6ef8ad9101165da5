import type { SiteConfig } from '../config/schema.ts';
import type { Policy } from '../config/policy-schema.ts';

export type Season = 'summer' | 'winter' | 'transition';

const monthFormats = new Map<string, Intl.DateTimeFormat>();

/** The month (1–12) of an instant in the site's time zone. */
export function monthIn(timezone: string, ts: number): number {
  // Building an Intl formatter costs ~0.1 ms; the engine asks on every check run, so keep one per zone.
  let f = monthFormats.get(timezone);
  if (!f) monthFormats.set(timezone, (f = new Intl.DateTimeFormat('en', { timeZone: timezone, month: 'numeric' })));
  return Number(f.format(ts));
}

/** P5: which comfort band applies, from the site's season months. */
export function seasonAt(site: SiteConfig['site'], ts: number): Season {
  const month = monthIn(site.timezone, ts);
  if (site.seasons.summer.includes(month)) return 'summer';
  if (site.seasons.winter.includes(month)) return 'winter';
  return 'transition';
}

export function comfortBand(policy: Policy, season: Season): [number, number] {
  return policy.comfort_c[season];
}
