import type { MeetingView } from '../api/schemas.ts';
import { apiCall, apiTarget, EXIT, localTime, reportError, table, type TargetOptions } from './api-client.ts';

/**
 * `roomctl meetings add|cancel|list` over the API (a scheduler, engineer or admin
 * token). Times are ISO 8601 with a zone (`2026-11-23T09:00+08:00`) or epoch ms, as
 * the booking API takes them; listings show them in the site's time zone.
 */
export interface AddOptions extends TargetOptions {
  id: string;
  room: string;
  start: string;
  end: string;
  level?: string;
  attendees?: number;
  title?: string;
  organizer?: string;
}

const instant = (s: string) => (/^\d+$/.test(s) ? Number(s) : s.replace(/^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})([+-]\d{2}:\d{2}|Z)$/, '$1:00$2'));

async function timezone(opts: TargetOptions): Promise<string> {
  return (await apiCall<{ timezone: string }>(apiTarget(opts), 'GET', '/api/v1/site')).timezone;
}

export async function meetingsAddCommand(o: AddOptions): Promise<number> {
  try {
    const body: Record<string, unknown> = { room: o.room, start: instant(o.start), end: instant(o.end) };
    if (o.level) body.level = o.level;
    if (o.attendees !== undefined) body.attendees = o.attendees;
    if (o.title) body.title = o.title;
    if (o.organizer) body.organizer = o.organizer;
    const r = await apiCall<{ meeting: MeetingView; change: string }>(apiTarget(o), 'PUT', `/api/v1/meetings/${encodeURIComponent(o.id)}`, body);
    const tz = await timezone(o);
    console.log(`meeting ${r.meeting.id} ${r.change}: ${r.meeting.room}, ${localTime(r.meeting.start, tz)}–${localTime(r.meeting.end, tz).slice(11)} (${tz}), ${r.meeting.level}`);
    return EXIT.ok;
  } catch (err) {
    return reportError(err, 'meetings add');
  }
}

export async function meetingsCancelCommand(id: string, o: TargetOptions): Promise<number> {
  try {
    const r = await apiCall<{ meeting: MeetingView }>(apiTarget(o), 'DELETE', `/api/v1/meetings/${encodeURIComponent(id)}`);
    console.log(`meeting ${r.meeting.id} cancelled (${r.meeting.room})`);
    return EXIT.ok;
  } catch (err) {
    return reportError(err, 'meetings cancel');
  }
}

export async function meetingsListCommand(o: TargetOptions & { room?: string; from?: string; to?: string; json?: boolean }): Promise<number> {
  try {
    const q = new URLSearchParams();
    if (o.room) q.set('room', o.room);
    if (o.from) q.set('from', String(instant(o.from)));
    if (o.to) q.set('to', String(instant(o.to)));
    const r = await apiCall<{ meetings: MeetingView[] }>(apiTarget(o), 'GET', `/api/v1/meetings${q.size ? `?${q}` : ''}`);
    if (o.json) {
      console.log(JSON.stringify(r.meetings, null, 2));
      return EXIT.ok;
    }
    if (r.meetings.length === 0) {
      console.log('no meetings');
      return EXIT.ok;
    }
    const tz = await timezone(o);
    const rows = r.meetings.map((m) => [m.id, m.room, localTime(m.start, tz), localTime(m.end, tz).slice(11), m.level, String(m.attendees), m.title ?? '', m.organizer ?? '']);
    console.log(table(['ID', 'ROOM', `START (${tz})`, 'END', 'LEVEL', 'PEOPLE', 'TITLE', 'ORGANIZER'], rows));
    return EXIT.ok;
  } catch (err) {
    return reportError(err, 'meetings list');
  }
}
