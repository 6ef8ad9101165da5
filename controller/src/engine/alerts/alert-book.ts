import { z } from 'zod';
import { silentLogger, type Logger } from '../../log.ts';
import type { EventBus } from '../../model/bus.ts';
import type { Clock } from '../../model/clock.ts';
import type { AlertEvent, CheckOutcome } from '../../model/events.ts';
import type { PointValue } from '../../model/points.ts';
import { readJsonWithBackup, writeJsonAtomic } from '../timeline/atomic-file.ts';

/**
 * The alert book: an alert per (room, check, meeting) is raised once when the check
 * fails and cleared once when it passes again — never repeated on every tick or every
 * re-check. `unknown` outcomes change nothing: a stale reading neither proves a fault
 * nor clears one (the devices_online check is what alerts on a silent device).
 *
 * With a file, active alerts survive a restart (atomic JSON, like the schedule), so a
 * restarted controller does not raise the same alert a second time.
 * P15: alerts carry room, check, meeting id and values — never a title or organizer.
 */
export interface AlertInput {
  room: string;
  check: string;
  meetingId?: string;
  observed?: PointValue | PointValue[] | null;
  expected?: string;
  /** Minutes before the meeting starts (negative once started). */
  minutesToStart?: number;
  severity?: AlertEvent['severity'];
  message?: string;
}

export interface AlertBookOptions {
  file?: string;
  logger?: Logger;
  /** An alert this close to the start (or later) is critical; earlier ones are warnings. Default 15 (P4). */
  criticalWithinMinutes?: number;
}

const storedAlert = z.object({
  id: z.string(),
  room: z.string(),
  meetingId: z.string().optional(),
  check: z.string(),
  state: z.literal('raised'),
  severity: z.enum(['warning', 'critical']),
  message: z.string(),
  observed: z.unknown().optional(),
  expected: z.string().optional(),
  minutesToStart: z.number().optional(),
  ts: z.number(),
});
const storedFile = z.object({ version: z.literal(1), active: z.array(storedAlert) });

export const alertId = (room: string, check: string, meetingId?: string) => `${room}/${check}/${meetingId ?? '-'}`;

export class AlertBook {
  private activeById = new Map<string, AlertEvent>();
  private log: Logger;

  constructor(
    private bus: EventBus,
    private clock: Clock,
    private options: AlertBookOptions = {},
  ) {
    this.log = options.logger ?? silentLogger;
  }

  /** Restores the active alerts of the previous run (no events: they were announced then). */
  load(): string[] {
    if (!this.options.file) return [];
    const read = readJsonWithBackup(this.options.file, parseStoredFile, () => this.clock.now());
    for (const a of read.value?.active ?? []) this.activeById.set(a.id, a as AlertEvent);
    for (const p of read.problems) this.log.warn({ file: this.options.file }, `alerts: ${p}`);
    return read.problems;
  }

  /** Raises the alert unless it is already active. Returns the event when one was emitted. */
  raise(input: AlertInput): AlertEvent | undefined {
    const id = alertId(input.room, input.check, input.meetingId);
    if (this.activeById.has(id)) return undefined;
    const critical = input.minutesToStart !== undefined && input.minutesToStart <= (this.options.criticalWithinMinutes ?? 15);
    const event: AlertEvent = {
      id,
      room: input.room,
      check: input.check,
      state: 'raised',
      severity: input.severity ?? (critical ? 'critical' : 'warning'),
      message: input.message ?? describe(input),
      ts: this.clock.now(),
    };
    if (input.meetingId !== undefined) event.meetingId = input.meetingId;
    if (input.observed !== undefined) event.observed = input.observed;
    if (input.expected !== undefined) event.expected = input.expected;
    if (input.minutesToStart !== undefined) event.minutesToStart = Math.round(input.minutesToStart * 10) / 10;
    this.activeById.set(id, event);
    this.changed(event);
    return event;
  }

  /** Clears the alert if it is active. Returns the event when one was emitted. */
  clear(room: string, check: string, meetingId?: string, why = 'resolved'): AlertEvent | undefined {
    const id = alertId(room, check, meetingId);
    const raised = this.activeById.get(id);
    if (!raised) return undefined;
    this.activeById.delete(id);
    const event: AlertEvent = { ...raised, state: 'cleared', message: `${room}: ${check} ${why}`, ts: this.clock.now() };
    this.changed(event);
    return event;
  }

  /** fail → raise, pass → clear, unknown → leave as is. */
  reconcile(outcomes: CheckOutcome[], minutesToStart?: number): { raised: AlertEvent[]; cleared: AlertEvent[] } {
    const raised: AlertEvent[] = [];
    const cleared: AlertEvent[] = [];
    for (const o of outcomes) {
      if (o.status === 'fail') {
        const e = this.raise({ room: o.room, check: o.check, meetingId: o.meetingId, observed: o.observed, expected: o.expected, minutesToStart });
        if (e) raised.push(e);
      } else if (o.status === 'pass') {
        const e = this.clear(o.room, o.check, o.meetingId);
        if (e) cleared.push(e);
      }
    }
    return { raised, cleared };
  }

  /** Clears every alert of a meeting (it ended or was cancelled). */
  clearMeeting(meetingId: string, why = 'meeting over'): AlertEvent[] {
    const out: AlertEvent[] = [];
    for (const a of [...this.activeById.values()]) if (a.meetingId === meetingId) out.push(this.clear(a.room, a.check, a.meetingId, why)!);
    return out;
  }

  active(room?: string): AlertEvent[] {
    return [...this.activeById.values()].filter((a) => room === undefined || a.room === room);
  }

  isActive(room: string, check: string, meetingId?: string): boolean {
    return this.activeById.has(alertId(room, check, meetingId));
  }

  private changed(event: AlertEvent): void {
    if (this.options.file) {
      try {
        writeJsonAtomic(this.options.file, { version: 1, active: [...this.activeById.values()] });
      } catch (err) {
        // The alert still goes out; only its survival across a restart is at risk.
        this.log.error({ err, file: this.options.file }, 'alerts: could not save the alert book');
      }
    }
    this.bus.emit('alert', event);
  }
}

function parseStoredFile(json: unknown): z.infer<typeof storedFile> {
  const r = storedFile.safeParse(json);
  if (r.success) return r.data;
  throw new Error(`not a roomctl alert book: ${r.error.issues.map((x) => `${x.path.join('.') || '(top level)'}: ${x.message}`).join('; ')}`);
}

function describe(a: AlertInput): string {
  const observed = a.observed === undefined || a.observed === null ? 'nothing' : Array.isArray(a.observed) ? a.observed.join(', ') : String(a.observed);
  const when = a.minutesToStart === undefined ? '' : a.minutesToStart >= 0 ? `; ${Math.round(a.minutesToStart)} min before start` : `; ${Math.round(-a.minutesToStart)} min into the meeting`;
  return `${a.room}: ${a.check} failed: observed ${observed}, expected ${a.expected ?? '?'}${when}`;
}
