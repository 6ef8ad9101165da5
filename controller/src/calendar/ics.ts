import ICAL from 'ical.js';
import { resolveTzid, wallClockToEpoch, type ZoneSpec } from './zones.ts';

/**
 * Reading iCalendar feeds (RFC 5545): the only module that imports ical.js.
 *
 * Why ical.js (Mozilla, the parser behind Thunderbird's calendar): it implements
 * the whole recurrence model — RRULE, RDATE, EXDATE and RECURRENCE-ID overrides
 * through Event.iterator()/getOccurrenceDetails() — and reads the VTIMEZONE blocks
 * a feed carries, so Exchange's "China Standard Time" or Google's America/New_York
 * definitions convert with their daylight-saving rules. It has no dependencies and
 * ships its own types. node-ical leaves the expansion of overrides to the caller;
 * ical-expander is a thin wrapper over an older ical.js.
 *
 * What ical.js cannot know — a TZID the feed does not define — is left floating by
 * it and resolved here by zones.ts (IANA, Windows and display names), else read in
 * the site's zone and reported.
 *
 * P15: a FeedInstance carries the title and organizer for the schedule (which may
 * keep them); nothing in this module logs, and problems name UIDs, never titles.
 */
export interface FeedInstance {
  uid: string;
  /** The instance's original start (RECURRENCE-ID) for recurring events; absent for single events. */
  recurrenceId?: number;
  start: number;
  end: number;
  categories: string[];
  /** Value of the level X- property, when asked for and present. */
  levelProperty?: string;
  /** People expected: ATTENDEE lines that are not rooms or resources and did not decline. */
  attendees?: number;
  title?: string;
  organizer?: string;
}

export interface ExpandOptions {
  /** [from, to): instances overlapping it are returned. */
  from: number;
  to: number;
  /** Zone for floating times and TZIDs nothing resolves (the site's zone). */
  fallbackZone: string;
  /** X- property holding a meeting level, e.g. X-ROOMCTL-LEVEL. */
  levelProperty?: string;
}

export interface Expansion {
  instances: FeedInstance[];
  /** Events skipped or read with a guess, each with its UID and why. */
  problems: string[];
  counts: { events: number; allDay: number; cancelled: number };
}

export class IcsError extends Error {}

/** A parsed feed: its events grouped by UID (a master and its RECURRENCE-ID overrides). */
export interface ParsedFeed {
  readonly groups: ReadonlyMap<string, ICAL.Component[]>;
}

/** Instances after the window end whose override moves them back into it are still found up to this far. */
const OVERRIDE_REACH_MS = 31 * 86_400_000;
/** A rule that yields this many instances before reaching the window is abandoned (FREQ=SECONDLY from 1970…). */
const MAX_STEPS = 100_000;

export function parseFeed(text: string): ParsedFeed {
  let jcal: unknown;
  try {
    jcal = ICAL.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    // ical.js quotes the offending line; it could be anything the server sent (even a title), so it is left out.
    throw new IcsError(`not an iCalendar feed: ${(err as Error).message.split('\n')[0]!.replace(/\s*".*$/, '').slice(0, 120)}`);
  }
  // Several VCALENDARs in one body parse to a list.
  const roots = (Array.isArray(jcal) && typeof jcal[0] === 'string' ? [jcal] : Array.isArray(jcal) ? jcal : []).map((j) => new ICAL.Component(j as unknown[]));
  if (roots.length === 0 || roots.some((r) => r.name !== 'vcalendar')) throw new IcsError('not an iCalendar feed: no VCALENDAR');
  const groups = new Map<string, ICAL.Component[]>();
  let n = 0;
  for (const root of roots)
    for (const ev of root.getAllSubcomponents('vevent')) {
      const uid = String(ev.getFirstPropertyValue('uid') ?? '').trim() || `no-uid-${n}`;
      n++;
      let list = groups.get(uid);
      if (!list) groups.set(uid, (list = []));
      list.push(ev);
    }
  return { groups };
}

/** The timed, not-cancelled instances of every event that overlap [from, to). */
export function expandFeed(feed: ParsedFeed, options: ExpandOptions): Expansion {
  const out: Expansion = { instances: [], problems: [], counts: { events: 0, allDay: 0, cancelled: 0 } };
  const unresolved = new Set<string>();
  const instant = (time: ICAL.Time, tzid: string | undefined): number => instantOf(time, tzid, options.fallbackZone, unresolved);
  for (const [uid, comps] of feed.groups) {
    out.counts.events++;
    try {
      expandGroup(uid, comps, options, instant, out);
    } catch (err) {
      out.problems.push(`event ${uid}: skipped (${(err as Error).message.split('\n')[0]!.replace(/\s*".*$/, '').slice(0, 120)})`);
    }
  }
  for (const tzid of unresolved) out.problems.push(`time zone "${tzid}" is neither defined in the feed nor known; its times were read in ${options.fallbackZone}`);
  return out;
}

type Instant = (time: ICAL.Time, tzid: string | undefined) => number;

function expandGroup(uid: string, comps: ICAL.Component[], o: ExpandOptions, instant: Instant, out: Expansion): void {
  const master = comps.find((c) => !c.hasProperty('recurrence-id'));
  const overrides = comps.filter((c) => c !== master && c.hasProperty('recurrence-id'));
  if (!master) {
    // Only overrides were shared (an invitation to one instance): each stands alone.
    for (const c of overrides) single(uid, c, instant(c.getFirstPropertyValue('recurrence-id') as ICAL.Time, tzidOf(c, 'recurrence-id')), o, instant, out);
    return;
  }
  const event = new ICAL.Event(master, { strictExceptions: false });
  for (const c of overrides) event.relateException(c);
  if (event.startDate.isDate) {
    out.counts.allDay++;
    return;
  }
  if (!event.isRecurring()) return single(uid, master, undefined, o, instant, out);
  const masterCancelled = isCancelled(master);
  const it = event.iterator();
  for (let steps = 0; ; steps++) {
    if (steps > MAX_STEPS) throw new Error(`its rule yields more than ${MAX_STEPS} instances before the window`);
    const next = it.next();
    if (!next) break;
    const rid = instant(next, tzidOf(master, 'dtstart'));
    if (rid >= o.to + OVERRIDE_REACH_MS) break;
    const details = event.getOccurrenceDetails(next);
    const item = details.item.component;
    const isOverride = item !== master;
    if (isOverride ? isCancelled(item) : masterCancelled) {
      if (rid >= o.from) out.counts.cancelled++;
      continue;
    }
    if (details.startDate.isDate) continue; // an override turned into an all-day entry
    const start = instant(details.startDate, tzidOf(item, 'dtstart'));
    const end = instant(details.endDate, item.hasProperty('dtend') ? tzidOf(item, 'dtend') : tzidOf(item, 'dtstart'));
    if (!(end > o.from && start < o.to)) continue;
    out.instances.push({ uid, recurrenceId: rid, start, end, ...describe(item, master, o) });
  }
}

function single(uid: string, comp: ICAL.Component, recurrenceId: number | undefined, o: ExpandOptions, instant: Instant, out: Expansion): void {
  const event = new ICAL.Event(comp);
  if (event.startDate.isDate) {
    out.counts.allDay++;
    return;
  }
  if (isCancelled(comp)) {
    out.counts.cancelled++;
    return;
  }
  const start = instant(event.startDate, tzidOf(comp, 'dtstart'));
  const end = instant(event.endDate, comp.hasProperty('dtend') ? tzidOf(comp, 'dtend') : tzidOf(comp, 'dtstart'));
  if (!(end > o.from && start < o.to)) return;
  out.instances.push({ uid, ...(recurrenceId !== undefined ? { recurrenceId } : {}), start, end, ...describe(comp, comp, o) });
}

const isCancelled = (c: ICAL.Component) => String(c.getFirstPropertyValue('status') ?? '').toUpperCase() === 'CANCELLED';

function tzidOf(c: ICAL.Component, prop: string): string | undefined {
  const v = c.getFirstProperty(prop)?.getParameter('tzid');
  return typeof v === 'string' ? v : Array.isArray(v) ? v[0] : undefined;
}

/**
 * A Time in a zone the feed defined (or UTC) converts by ical.js; a floating one is
 * resolved by its TZID (zones.ts) or read in the fallback zone.
 */
function instantOf(time: ICAL.Time, tzid: string | undefined, fallbackZone: string, unresolved: Set<string>): number {
  const zone = time.zone;
  if (zone && zone !== ICAL.Timezone.localTimezone && zone.tzid !== 'floating') return time.toUnixTime() * 1000;
  let spec: ZoneSpec | undefined = tzid ? resolveTzid(tzid) : undefined;
  if (!spec) {
    if (tzid) unresolved.add(tzid);
    spec = { iana: fallbackZone };
  }
  return wallClockToEpoch({ year: time.year, month: time.month, day: time.day, hour: time.hour, minute: time.minute, second: time.second }, spec);
}

/** Level hints, attendees, title and organizer of an instance: the override's own, else the series'. */
function describe(item: ICAL.Component, master: ICAL.Component, o: ExpandOptions): Omit<FeedInstance, 'uid' | 'recurrenceId' | 'start' | 'end'> {
  const pick = (name: string) => (item.hasProperty(name) ? item : master);
  const categories = pick('categories')
    .getAllProperties('categories')
    .flatMap((p) => p.getValues().map((v) => String(v).trim()))
    .filter(Boolean);
  const out: Omit<FeedInstance, 'uid' | 'recurrenceId' | 'start' | 'end'> = { categories };
  if (o.levelProperty) {
    const v = pick(o.levelProperty.toLowerCase()).getFirstPropertyValue(o.levelProperty.toLowerCase());
    if (v !== null && v !== undefined && String(v).trim()) out.levelProperty = String(v).trim();
  }
  const attendees = pick('attendee').getAllProperties('attendee');
  if (attendees.length > 0) {
    const people = new Set<string>();
    for (const a of attendees) {
      const cutype = String(a.getParameter('cutype') ?? 'INDIVIDUAL').toUpperCase();
      const partstat = String(a.getParameter('partstat') ?? '').toUpperCase();
      if (cutype === 'ROOM' || cutype === 'RESOURCE' || partstat === 'DECLINED') continue;
      people.add(String(a.getFirstValue() ?? '').toLowerCase() || `#${people.size}`);
    }
    out.attendees = people.size;
  }
  const title = clean(item.getFirstPropertyValue('summary'), 500);
  if (title) out.title = title;
  const org = item.getFirstProperty('organizer') ?? master.getFirstProperty('organizer');
  const organizer = org ? clean(org.getParameter('cn') || String(org.getFirstValue() ?? '').replace(/^mailto:/i, ''), 200) : undefined;
  if (organizer) out.organizer = organizer;
  return out;
}

/** Text fit for the schedule: no control characters (a SUMMARY may hold newlines), bounded length. */
function clean(v: unknown, max: number): string | undefined {
  if (v === null || v === undefined) return undefined;
  const s = String(Array.isArray(v) ? v[0] : v)
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .trim();
  return s ? s.slice(0, max) : undefined;
}
