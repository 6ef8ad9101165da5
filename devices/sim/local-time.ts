/**
 * Wall-clock time in the site's time zone: the demo day's meetings and the
 * outdoor climate are written in local time ("09:00" in Asia/Shanghai), while
 * clocks count epoch milliseconds.
 */
import { zoneOffset } from '../../controller/src/model/local-time.ts';

export interface LocalTime {
  /** YYYY-MM-DD */
  day: string;
  year: number;
  month: number;
  dayOfMonth: number;
  /** 1 = January 1st. */
  dayOfYear: number;
  /** Hours since local midnight, fractional (13.5 = 13:30). */
  hours: number;
  /** HH:MM */
  hhmm: string;
}

/** Offset of the zone from UTC at an instant, in ms (Asia/Shanghai: +8 h): the controller's own local-time module. */
export const zoneOffsetMs = zoneOffset;

/** Epoch ms of a local day and time of day (HH:MM or HH:MM:SS) in a zone. */
export function localToEpoch(day: string, time: string, timeZone: string): number {
  const [y, mo, d] = day.split('-').map(Number) as [number, number, number];
  const [h, mi, s = 0] = time.split(':').map(Number) as [number, number, number?];
  const naive = Date.UTC(y, mo - 1, d, h, mi, s);
  // Two passes settle the offset across a daylight-saving change.
  let ts = naive - zoneOffsetMs(naive, timeZone);
  ts = naive - zoneOffsetMs(ts, timeZone);
  return ts;
}

export function epochToLocal(ts: number, timeZone: string): LocalTime {
  const local = new Date(ts + zoneOffsetMs(ts, timeZone));
  const year = local.getUTCFullYear();
  const month = local.getUTCMonth() + 1;
  const dayOfMonth = local.getUTCDate();
  const dayOfYear = Math.floor((Date.UTC(year, month - 1, dayOfMonth) - Date.UTC(year, 0, 1)) / 86_400_000) + 1;
  const hours = local.getUTCHours() + local.getUTCMinutes() / 60 + local.getUTCSeconds() / 3600 + local.getUTCMilliseconds() / 3_600_000;
  const pad = (n: number) => String(n).padStart(2, '0');
  return {
    day: `${year}-${pad(month)}-${pad(dayOfMonth)}`,
    year,
    month,
    dayOfMonth,
    dayOfYear,
    hours,
    hhmm: `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}`,
  };
}

/** Today's date (YYYY-MM-DD) in a zone. */
export function localToday(timeZone: string, now = Date.now()): string {
  return epochToLocal(now, timeZone).day;
}
