import type { InfluxConfig } from '../config/schema.ts';
import { ErrorCode, RoomctlError } from '../errors.ts';
import { InfluxConnection, influxString, type QueryRow } from '../adapters/influx.ts';
import { Measurement, RP } from './rows.ts';
import { dayRange, localDate, localTime, monthRange } from '../model/local-time.ts';

/**
 * The readiness report (`roomctl report`): the P4 record of a day — every meeting,
 * whether its room was ready at T-15 and at the start, how late, which checks failed,
 * no-shows — or, with a month, the P9 monthly view of the same plus check results.
 * Read from InfluxDB (`meeting` and `readiness`); it names meetings by id only (P15).
 */
export interface ReportOptions {
  /** Local day `YYYY-MM-DD` (default: today in `timezone`). */
  day?: string;
  /** Local month `YYYY-MM` (instead of a day). */
  month?: string;
  timezone: string;
  /** Only this site's rows, when several sites share a database. */
  site?: string;
  /** "Today" for the default day (ms); default Date.now(). */
  now?: number;
}

export interface ReportCounts {
  meetings: number;
  readyAtReadyCheck: number;
  readyAtStart: number;
  late: number;
  noShows: number;
  /** Share of meetings ready at T-15 (0..1), null without meetings. */
  shareReadyAtReadyCheck: number | null;
}

export interface ReportMeeting {
  room: string;
  meetingId: string;
  level: string;
  start: string;
  localStart: string;
  readyAtReadyCheck: boolean;
  readyAtStart: boolean;
  minutesReadyBeforeStart: number | null;
  minutesLate: number;
  noShow: boolean;
  failingChecks: string[];
  hvacMinutes: number | null;
}

export interface ReportCheck {
  check: string;
  runs: number;
  passed: number;
  failed: number;
  unknown: number;
}

export interface Report {
  period: { kind: 'day' | 'month'; label: string; timezone: string; from: string; to: string };
  totals: ReportCounts;
  rooms: (ReportCounts & { room: string })[];
  meetings: ReportMeeting[];
  /** Check outcomes of the period, most failures first ("failures by check"). */
  checks: ReportCheck[];
}

export async function buildReport(influxConfig: InfluxConfig | undefined, options: ReportOptions): Promise<Report> {
  if (!influxConfig?.url) throw new RoomctlError(ErrorCode.ReportInvalid, 'the report reads InfluxDB: set influx.url in the configuration');
  const { kind, label, range } = period(options);
  const conn = new InfluxConnection({ url: influxConfig.url, database: influxConfig.database, username: influxConfig.username, password: influxConfig.password, timeoutMs: influxConfig.timeout_ms });
  try {
    const where = `time >= ${range[0]}ms AND time < ${range[1]}ms${options.site ? ` AND "site" = ${influxString(options.site)}` : ''}`;
    const meetingRows = await conn.query(`SELECT * FROM "${RP.long}"."${Measurement.meeting}" WHERE ${where}`);
    const checkRows = await conn.query(`SELECT count("passed") FROM "${RP.long}"."${Measurement.readiness}" WHERE ${where} GROUP BY "check", "status"`);
    const meetings = meetingRows.map((r) => toMeeting(r, options.timezone)).sort((a, b) => a.start.localeCompare(b.start) || a.room.localeCompare(b.room));
    const byRoom = new Map<string, ReportMeeting[]>();
    for (const m of meetings) byRoom.set(m.room, [...(byRoom.get(m.room) ?? []), m]);
    return {
      period: { kind, label, timezone: options.timezone, from: new Date(range[0]).toISOString(), to: new Date(range[1]).toISOString() },
      totals: counts(meetings),
      rooms: [...byRoom.keys()].sort().map((room) => ({ room, ...counts(byRoom.get(room)!) })),
      meetings,
      checks: checks(checkRows),
    };
  } finally {
    conn.close();
  }
}

function period(o: ReportOptions): { kind: 'day' | 'month'; label: string; range: [number, number] } {
  if (o.day && o.month) throw new RoomctlError(ErrorCode.ReportInvalid, 'give either a day or a month, not both');
  if (o.month) {
    const range = monthRange(o.month, o.timezone);
    if (!range) throw new RoomctlError(ErrorCode.ReportInvalid, `--month ${o.month}: expected YYYY-MM`);
    return { kind: 'month', label: o.month, range };
  }
  const day = o.day ?? localDate(o.now ?? Date.now(), o.timezone);
  const range = dayRange(day, o.timezone);
  if (!range) throw new RoomctlError(ErrorCode.ReportInvalid, `--day ${day}: expected YYYY-MM-DD`);
  return { kind: 'day', label: day, range };
}

const numberOr = (v: unknown, fallback: number | null) => (typeof v === 'number' ? v : fallback);

function toMeeting(r: QueryRow, timezone: string): ReportMeeting {
  const start = Date.parse(String(r.time));
  return {
    room: String(r.room ?? ''),
    meetingId: String(r.meeting_id ?? ''),
    level: String(r.level ?? 'normal'),
    start: new Date(start).toISOString(),
    localStart: localTime(start, timezone),
    readyAtReadyCheck: r.ready_t15 === 1,
    readyAtStart: r.ready_at_start === 1,
    minutesReadyBeforeStart: numberOr(r.minutes_ready_before_start, null),
    minutesLate: numberOr(r.minutes_late, 0)!,
    noShow: r.no_show === 1,
    failingChecks: typeof r.failing_checks === 'string' && r.failing_checks ? r.failing_checks.split(',') : [],
    hvacMinutes: numberOr(r.hvac_minutes, null),
  };
}

function counts(ms: ReportMeeting[]): ReportCounts {
  const n = (f: (m: ReportMeeting) => boolean) => ms.filter(f).length;
  const ready = n((m) => m.readyAtReadyCheck);
  return { meetings: ms.length, readyAtReadyCheck: ready, readyAtStart: n((m) => m.readyAtStart), late: n((m) => m.minutesLate > 0), noShows: n((m) => m.noShow), shareReadyAtReadyCheck: ms.length ? ready / ms.length : null };
}

function checks(rows: QueryRow[]): ReportCheck[] {
  const out = new Map<string, ReportCheck>();
  for (const r of rows) {
    const check = String(r.check ?? '');
    const c = out.get(check) ?? { check, runs: 0, passed: 0, failed: 0, unknown: 0 };
    const count = Number(r.count ?? 0);
    c.runs += count;
    if (r.status === 'pass') c.passed += count;
    else if (r.status === 'fail') c.failed += count;
    else c.unknown += count;
    out.set(check, c);
  }
  return [...out.values()].sort((a, b) => b.failed - a.failed || a.check.localeCompare(b.check));
}

/** The report as text tables for a terminal. */
export function formatReport(report: Report): string {
  const t = report.totals;
  const pct = (part: number, all: number) => (all ? ` (${Math.round((part / all) * 100)}%)` : '');
  const title = report.period.kind === 'day' ? `Readiness report for ${report.period.label} (${report.period.timezone}) — P4` : `Readiness report for ${report.period.label} (${report.period.timezone}) — P4/P9 monthly`;
  const out = [title, `Meetings ${t.meetings} · ready at T-15 ${t.readyAtReadyCheck}${pct(t.readyAtReadyCheck, t.meetings)} · ready at start ${t.readyAtStart}${pct(t.readyAtStart, t.meetings)} · late ${t.late} · no-shows ${t.noShows}`, ''];
  if (t.meetings === 0) out.push('No meetings recorded in this period.', '');
  else out.push(table(['Room', 'Meetings', 'Ready T-15', 'Ready at start', 'Late', 'No-shows'], report.rooms.map((r) => [r.room, r.meetings, r.readyAtReadyCheck, r.readyAtStart, r.late, r.noShows])), '');
  if (report.period.kind === 'day' && report.meetings.length > 0) {
    const yes = (b: boolean) => (b ? 'yes' : 'no');
    out.push('Meetings', table(['Start', 'Room', 'Meeting', 'Level', 'T-15', 'At start', 'Ready (min before)', 'Late (min)', 'No-show', 'Failing checks'], report.meetings.map((m) => [m.localStart, m.room, m.meetingId, m.level, yes(m.readyAtReadyCheck), yes(m.readyAtStart), m.minutesReadyBeforeStart ?? '-', m.minutesLate, yes(m.noShow), m.failingChecks.join(', ') || '-'])), '');
  }
  out.push('Checks (failures first)');
  out.push(report.checks.length ? table(['Check', 'Runs', 'Passed', 'Failed', 'Unknown'], report.checks.map((c) => [c.check, c.runs, c.passed, c.failed, c.unknown])) : 'No check results recorded in this period.');
  return `${out.join('\n')}\n`;
}

function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}
