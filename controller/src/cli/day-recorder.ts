import type { Site } from '../config/load.ts';
import type { EventBus } from '../model/bus.ts';
import type { Clock } from '../model/clock.ts';
import type { ActivityEvent, AlertEvent, CheckOutcome, MeetingVerdict } from '../model/events.ts';
import type { PointValue } from '../model/points.ts';

/**
 * What a simulated day produced, heard on the bus the way the recorder and the API
 * hear it: verdicts, every check that did not pass, alerts, closes, routines. Only ids,
 * rooms, levels, check names and values — never a title or organizer (P15): the bus
 * events carry none, and nothing here reads the schedule.
 */
export interface FailingCheck {
  check: string;
  step?: string;
  status: 'fail' | 'unknown';
  observed?: PointValue | PointValue[] | null;
  expected?: string;
  at: string;
}

export interface AlertLine {
  id: string;
  room: string;
  meetingId?: string;
  check: string;
  state: AlertEvent['state'];
  severity: AlertEvent['severity'];
  minutesToStart?: number;
  /** What the engineer reads: the failing check or device, observed, since when (no title or organizer). */
  message: string;
  /** A clear: why it cleared. */
  reason?: string;
  at: string;
}

export interface MeetingLine {
  id: string;
  room: string;
  level: string;
  start: string;
  end: string;
  bookedAt: string;
  verdict: MeetingVerdict | null;
  /** P5: temperature in band at the readiness check (T-15). */
  temperatureInBandAtReadyCheck: boolean | null;
  failingChecks: FailingCheck[];
  alerts: AlertLine[];
  hvacMinutes: number | null;
}

export class DayRecorder {
  readonly verdicts = new Map<string, MeetingVerdict>();
  readonly checks: CheckOutcome[] = [];
  readonly alerts: AlertEvent[] = [];
  readonly activities: ActivityEvent[] = [];
  readonly bookedAt = new Map<string, number>();
  readonly rejections: { id: string; why: string }[] = [];
  readonly faults: { room: string; kind: string; clear: boolean; at: string; error?: string }[] = [];

  constructor(
    bus: EventBus,
    private site: Site,
    private clock: Clock,
  ) {
    bus.on('verdict', (v) => this.verdicts.set(v.meetingId, { ...v }));
    bus.on('check', (c) => this.checks.push(c));
    bus.on('alert', (a) => this.alerts.push(a));
    bus.on('activity', (a) => this.activities.push(a));
  }

  booked(id: string, ts: number): void {
    this.bookedAt.set(id, ts);
  }

  rejected(id: string, why: string): void {
    this.rejections.push({ id, why });
  }

  fault(f: { room: string; kind: string }, clear: boolean, ts: number, error?: string): void {
    this.faults.push({ room: f.room, kind: f.kind, clear, at: this.local(ts), ...(error ? { error } : {}) });
  }

  /** Alerts raised for a meeting, or (meetingId undefined) for rooms outside any meeting. */
  alertsOf(meetingId: string | undefined, state?: AlertEvent['state']): AlertEvent[] {
    return this.alerts.filter((a) => a.meetingId === meetingId && (state === undefined || a.state === state));
  }

  /** Checks of a meeting that did not pass, once per (check, step, status). */
  failingOf(meetingId: string): FailingCheck[] {
    const seen = new Set<string>();
    const out: FailingCheck[] = [];
    for (const c of this.checks) {
      if (c.meetingId !== meetingId || c.status === 'pass') continue;
      const key = `${c.check}/${c.step}/${c.status}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ check: c.check, ...(c.step ? { step: c.step } : {}), status: c.status, observed: c.observed, ...(c.expected ? { expected: c.expected } : {}), at: this.local(c.ts) });
    }
    return out;
  }

  /** The outcome of a check at a step of a meeting (the last one if it ran more than once). */
  outcome(meetingId: string, check: string, step: string): CheckOutcome | undefined {
    return this.checks.filter((c) => c.meetingId === meetingId && c.check === check && c.step === step).at(-1);
  }

  meetingLine(m: { id: string; room: string; level: string; start: number; end: number }): MeetingLine {
    const v = this.verdicts.get(m.id) ?? null;
    const band = this.outcome(m.id, 'temperature_in_band', 'ready');
    const booked = this.bookedAt.get(m.id);
    return {
      id: m.id,
      room: m.room,
      level: m.level,
      start: this.local(m.start),
      end: this.local(m.end),
      bookedAt: booked === undefined ? 'not booked' : this.local(booked),
      verdict: v,
      temperatureInBandAtReadyCheck: band ? band.status === 'pass' : null,
      failingChecks: this.failingOf(m.id),
      alerts: this.alertsOf(m.id).map((a) => this.alertLine(a)),
      hvacMinutes: v?.hvacMinutes ?? null,
    };
  }

  alertLine(a: AlertEvent): AlertLine {
    return {
      id: a.id,
      room: a.room,
      ...(a.meetingId ? { meetingId: a.meetingId } : {}),
      check: a.check,
      state: a.state,
      severity: a.severity,
      ...(a.minutesToStart !== undefined ? { minutesToStart: a.minutesToStart } : {}),
      message: a.message,
      ...(a.reason ? { reason: a.reason } : {}),
      at: this.local(a.ts),
    };
  }

  /** `HH:MM:SS` in the site's time zone (a day's report reads in local time). */
  local(ts: number): string {
    return new Intl.DateTimeFormat('en-GB', { timeZone: this.site.config.site.timezone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(ts);
  }

  now(): number {
    return this.clock.now();
  }
}
