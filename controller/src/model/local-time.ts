/**
 * Calendar days and months in the site's time zone (reports are per local day, P4,
 * and per local month, P9), with Intl only: no time-zone library needed.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function localParts(utcMs: number, timeZone: string): LocalParts {
  const d = new Date(Math.floor(utcMs / 1000) * 1000 + zoneOffset(utcMs, timeZone));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() };
}

/** What Intl says the local wall clock reads at an instant (the slow path: formatToParts). */
function intlParts(utcMs: number, timeZone: string): LocalParts {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(utcMs))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { year: p.year!, month: p.month!, day: p.day!, hour: p.hour! % 24, minute: p.minute!, second: p.second! };
}

/**
 * A zone's offset changes only at instants on a quarter hour of UTC (every offset in use
 * is a whole number of quarter hours, and changes happen on the local hour or half
 * hour), so one Intl call per zone per quarter hour serves every instant in it. The
 * engine and the simulator ask the local time many times a second.
 */
const QUARTER_HOUR = 15 * 60_000;
/** Per zone, offsets by quarter hour; the engine asks about now and about its meetings' times, so a few stay warm. */
const offsets = new Map<string, Map<number, number>>();
const MAX_QUARTERS = 4096;

/** Offset of the zone from UTC at that instant, in ms (Asia/Shanghai: +8 h). */
export function zoneOffset(utcMs: number, timeZone: string): number {
  const quarter = Math.floor(utcMs / QUARTER_HOUR);
  let zone = offsets.get(timeZone);
  const known = zone?.get(quarter);
  if (known !== undefined) return known;
  const p = intlParts(utcMs, timeZone);
  const offset = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(utcMs / 1000) * 1000;
  if (!zone || zone.size >= MAX_QUARTERS) offsets.set(timeZone, (zone = new Map()));
  zone.set(quarter, offset);
  return offset;
}

/** The UTC instant of a local wall-clock time (the later one across a DST gap). */
export function zonedTime(year: number, month: number, day: number, timeZone: string, hour = 0, minute = 0): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  let t = wall - zoneOffset(wall, timeZone);
  t = wall - zoneOffset(t, timeZone);
  return t;
}

/** `YYYY-MM-DD` of an instant in the zone. */
export function localDate(utcMs: number, timeZone: string): string {
  const p = localParts(utcMs, timeZone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

/** `HH:MM` of an instant in the zone. */
export function localTime(utcMs: number, timeZone: string): string {
  const p = localParts(utcMs, timeZone);
  return `${pad(p.hour)}:${pad(p.minute)}`;
}

/** The zone's offset from UTC at that instant, as ISO 8601 writes it: `+08:00`, `-05:00`, `+00:00`. */
export function offsetText(utcMs: number, timeZone: string): string {
  const minutes = Math.round(zoneOffset(utcMs, timeZone) / 60_000);
  const a = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

/**
 * `2026-12-03 09:52 +08:00`: a time for a person to read (an error message, CLI
 * output) that needs no context — local to the site, with its zone named. Machine
 * fields (JSON `at`, InfluxDB timestamps) stay ISO/UTC.
 */
export function localStamp(utcMs: number, timeZone: string): string {
  return `${localDate(utcMs, timeZone)} ${localTime(utcMs, timeZone)} ${offsetText(utcMs, timeZone)}`;
}

/** `2026-12-03 09:00–10:30 +08:00` (one day, one offset), else both ends in full. */
export function localSpan(start: number, end: number, timeZone: string): string {
  if (localDate(start, timeZone) === localDate(end, timeZone) && offsetText(start, timeZone) === offsetText(end, timeZone))
    return `${localDate(start, timeZone)} ${localTime(start, timeZone)}–${localTime(end, timeZone)} ${offsetText(start, timeZone)}`;
  return `${localStamp(start, timeZone)} – ${localStamp(end, timeZone)}`;
}

/** `09:52` when the instant is on the same local day as `now` (an alert about today), else the whole localStamp. */
export function localWhen(utcMs: number, now: number, timeZone: string): string {
  return localDate(utcMs, timeZone) === localDate(now, timeZone) ? localTime(utcMs, timeZone) : localStamp(utcMs, timeZone);
}

/** [start, end) of a local day `YYYY-MM-DD`, or undefined if it is not a date. */
export function dayRange(day: string, timeZone: string): [number, number] | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return undefined;
  const next = new Date(Date.UTC(y, mo - 1, d + 1));
  return [zonedTime(y, mo, d, timeZone), zonedTime(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), timeZone)];
}

/** [start, end) of a local month `YYYY-MM`, or undefined if it is not a month. */
export function monthRange(month: string, timeZone: string): [number, number] | undefined {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m) return undefined;
  const [y, mo] = [Number(m[1]), Number(m[2])];
  if (mo < 1 || mo > 12) return undefined;
  return [zonedTime(y, mo, 1, timeZone), mo === 12 ? zonedTime(y + 1, 1, 1, timeZone) : zonedTime(y, mo + 1, 1, timeZone)];
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

