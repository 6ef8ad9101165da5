import { findIana } from 'windows-iana';
import { zonedTime } from '../model/local-time.ts';

/**
 * Time zones of calendar feeds that did not define them.
 *
 * RFC 5545 says every TZID used in a feed comes with its VTIMEZONE, and ical.js
 * reads those (Exchange's "China Standard Time" block, Google's America/New_York
 * block). Real feeds break the rule: Exchange/EWS-derived exports and hand-made
 * feeds name Windows zones ("China Standard Time") or IANA zones with no VTIMEZONE,
 * old Outlook writes display names ("(UTC+08:00) Beijing, Chongqing, …"), old
 * Mozilla writes "/mozilla.org/20050126_1/America/New_York". ical.js leaves such
 * times floating; this module finds the zone they meant and turns the wall-clock
 * time into an instant with Intl (which knows each zone's daylight-saving rules).
 */
export type ZoneSpec = { iana: string } | { offsetMinutes: number };

export interface WallClock {
  year: number;
  /** 1–12. */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const known = new Map<string, boolean>();

export function isIanaZone(name: string): boolean {
  let ok = known.get(name);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: name });
      ok = true;
    } catch {
      ok = false;
    }
    known.set(name, ok);
  }
  return ok;
}

/** The zone a TZID names, or undefined when it names nothing this module knows. */
export function resolveTzid(tzid: string): ZoneSpec | undefined {
  const name = tzid.trim().replace(/^"|"$/g, '');
  if (!name) return undefined;
  if (/^(utc|gmt|z)$/i.test(name)) return { offsetMinutes: 0 };
  if (isIanaZone(name) && name.includes('/')) return { iana: name };
  // Windows zone names, as Exchange and Outlook write them (CLDR windowsZones, territory 001 first).
  const windows = findIana(name)[0];
  if (windows && isIanaZone(windows)) return { iana: windows };
  // "/mozilla.org/20050126_1/America/New_York" and "/citadel.org/20190914_1/Europe/Berlin".
  const suffix = /^\/[^/]+\/[^/]+\/(.+)$/.exec(name)?.[1];
  if (suffix && isIanaZone(suffix)) return { iana: suffix };
  // "(UTC+08:00) Beijing, Chongqing, Hong Kong, Urumqi": only the standard offset is known.
  const display = /^\((?:UTC|GMT)(?:([+-])(\d{1,2}):?(\d{2}))?\)/i.exec(name);
  if (display) return { offsetMinutes: display[1] ? (display[1] === '-' ? -1 : 1) * (Number(display[2]) * 60 + Number(display[3])) : 0 };
  if (isIanaZone(name)) return { iana: name }; // "EST5EDT", "PRC" and other legacy names Intl accepts
  return undefined;
}

/** The instant of a wall-clock time in a zone (the later one across a daylight-saving gap). */
export function wallClockToEpoch(t: WallClock, zone: ZoneSpec): number {
  if ('offsetMinutes' in zone) return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second) - zone.offsetMinutes * 60_000;
  return zonedTime(t.year, t.month, t.day, zone.iana, t.hour, t.minute) + t.second * 1000;
}

export function describeZone(zone: ZoneSpec): string {
  if ('iana' in zone) return zone.iana;
  const m = Math.abs(zone.offsetMinutes);
  return `UTC${zone.offsetMinutes < 0 ? '-' : '+'}${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}
