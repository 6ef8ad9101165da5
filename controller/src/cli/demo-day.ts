import type { Site } from '../config/load.ts';
import { seasonAt, type Season } from '../model/season.ts';
import { localToEpoch, localToday } from '../../../devices/sim/local-time.ts';
import { overnightStart } from './sim-day.ts';

/**
 * Which day the demo (`npm start`, `roomctl start --simulate`) plays: today in the
 * site's time zone, unless `--day` names one. Not `simulation.day` of the config: that
 * is `roomctl sim run`'s day, fixed so its reports are reproducible, while the demo is
 * a live controller — a day in the past records points InfluxDB refuses (older than the
 * retention policy) and a `roomctl report` that finds nothing. The season (P5 comfort
 * band, the simulated weather) follows from the date: a December demo is a winter day.
 */
export interface DemoDay {
  /** YYYY-MM-DD in the site's time zone. */
  day: string;
  /**
   * Epoch ms the virtual clock starts at: as `sim run` plays a day, early enough for the
   * first meeting's whole pre-conditioning window (a controller runs through the night; a
   * winter building started at 07:30 would leave the first meetings cold), else
   * `simulation.start` on that day.
   */
  start: number;
  season: Season;
  /** Where the day came from, for the start-up log line. */
  from: 'today' | '--day';
}

const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A real calendar date written YYYY-MM-DD, or why not. */
export function checkDay(text: string): string | undefined {
  const m = ISO_DAY.exec(text);
  if (!m) return `expected YYYY-MM-DD, got "${text}"`;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return `"${text}" is not a date`;
  return undefined;
}

export function demoDay(site: Site, day?: string, now = Date.now()): DemoDay | { error: string } {
  if (day !== undefined) {
    const bad = checkDay(day);
    if (bad) return { error: `--day: ${bad}` };
  }
  const tz = site.config.site.timezone;
  const chosen = day ?? localToday(tz, now);
  const start = localToEpoch(chosen, overnightStart(site), tz);
  return { day: chosen, start, season: seasonAt(site.config.site, start), from: day === undefined ? 'today' : '--day' };
}
