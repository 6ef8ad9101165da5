import { z } from 'zod';
import { formatProblem, problemsFromZod } from '../config/issues.ts';
import { ErrorCode, RoomctlError } from '../errors.ts';
import type { MeetingLevel } from './events.ts';
import { localStamp } from './local-time.ts';

export type { MeetingLevel };

/**
 * A booked meeting as the engine keeps it. `title` and `organizer` are confidential
 * (P15): they live only here and in the schedule file. Everything that leaves the
 * engine (bus events, MQTT, InfluxDB, logs, metrics) uses publicMeeting().
 */
export interface Meeting {
  /** The booking system's id; upserts are keyed by it. */
  id: string;
  room: string;
  /** Epoch milliseconds. */
  start: number;
  end: number;
  level: MeetingLevel;
  attendees: number;
  title?: string;
  organizer?: string;
  status: 'scheduled' | 'cancelled';
  /**
   * When this booking (or its last move) arrived. P13 lateness is measured from it,
   * so a restart does not turn an on-time meeting into a "late" one.
   */
  plannedAt: number;
  updatedAt: number;
}

/** A meeting without its confidential fields (P15): safe for bus, MQTT, InfluxDB and logs. */
export type PublicMeeting = Omit<Meeting, 'title' | 'organizer'>;

export function publicMeeting(m: Meeting): PublicMeeting {
  const { title: _title, organizer: _organizer, ...rest } = m;
  return rest;
}

export const MEETING_LEVELS = ['normal', 'vip3', 'vip2', 'vip1'] as const satisfies readonly MeetingLevel[];

/** The longest booking accepted: anything longer is almost always a unit mistake (s vs ms). */
export const MAX_MEETING_MS = 24 * 3600_000;

/**
 * An instant as the booking system sends it: epoch milliseconds, or an ISO 8601 time
 * WITH a zone (`Z` or `+08:00`). A zoneless time is refused rather than guessed: the
 * controller's zone, the site's zone and the booking system's zone may all differ.
 */
const instant = z.union(
  [
    z.number().int().min(946_684_800_000, 'epoch milliseconds after 2000-01-01 (seconds given?)'),
    z.iso.datetime({ offset: true, message: 'an ISO time with a zone, e.g. 2026-11-23T09:00:00+08:00' }),
  ],
  { message: 'epoch milliseconds or an ISO time with a zone, e.g. 2026-11-23T09:00:00+08:00' },
);

const text = (max: number) => z.string().max(max).regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters');

export const meetingInputSchema = z.strictObject({
  id: text(200).min(1, 'must not be empty'),
  room: z.string().min(1, 'must not be empty'),
  start: instant,
  end: instant,
  level: z.enum(MEETING_LEVELS).default('normal'),
  attendees: z.number().int().min(0).max(100_000).default(0),
  title: text(500).optional(),
  organizer: text(200).optional(),
});

export type MeetingInput = z.input<typeof meetingInputSchema>;

/** A validated booking, times as epoch ms, before the schedule stamps it. */
export interface MeetingRequest {
  id: string;
  room: string;
  start: number;
  end: number;
  level: MeetingLevel;
  attendees: number;
  title?: string;
  organizer?: string;
}

const toMs = (v: number | string) => (typeof v === 'number' ? v : Date.parse(v));

/**
 * Validates a booking from the API or a calendar feed. Throws MeetingInvalid with every
 * problem as `field: message` (the same form config errors use), never a zod dump.
 * The message never quotes the title or organizer (P15): it may end up in a log.
 */
/** `timeZone`: the site's, for the times an error message shows (local, zone named). */
export function parseMeetingInput(raw: unknown, timeZone = 'UTC'): MeetingRequest {
  const parsed = meetingInputSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const problems = problemsFromZod(parsed.error).map((p) => (p.path[0] === 'title' || p.path[0] === 'organizer' ? `${String(p.path[0])}: invalid (not shown, P15)` : formatProblem(p)));
    throw new RoomctlError(ErrorCode.MeetingInvalid, `invalid meeting: ${problems.join('; ')}`, { problems });
  }
  const d = parsed.data;
  const req: MeetingRequest = { id: d.id, room: d.room, start: toMs(d.start), end: toMs(d.end), level: d.level, attendees: d.attendees };
  if (d.title !== undefined) req.title = d.title;
  if (d.organizer !== undefined) req.organizer = d.organizer;
  checkTimes(req.id, req.start, req.end, timeZone);
  return req;
}

/** The time rules every booking and every move must satisfy; a message shows times in `timeZone` (the site's). */
export function checkTimes(id: string, start: number, end: number, timeZone = 'UTC'): void {
  if (!Number.isFinite(start) || !Number.isFinite(end))
    throw new RoomctlError(ErrorCode.MeetingInvalid, `invalid meeting ${id}: start and end must be valid times`, { problems: ['start/end: not a time'] });
  if (end <= start)
    throw new RoomctlError(ErrorCode.MeetingInvalid, `invalid meeting ${id}: end (${localStamp(end, timeZone)}) must be after start (${localStamp(start, timeZone)})`, { problems: ['end: must be after start'] });
  if (end - start > MAX_MEETING_MS)
    throw new RoomctlError(ErrorCode.MeetingInvalid, `invalid meeting ${id}: lasts ${Math.round((end - start) / 3600_000)} h; at most 24 h is accepted`, {
      problems: ['end: more than 24 hours after start'],
    });
}

/** Do two half-open intervals [start, end) overlap? Back-to-back (end == next start) does not. */
export function overlaps(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start < b.end && b.start < a.end;
}
