import { z } from 'zod';
import { silentLogger, type Logger } from '../../log.ts';
import type { EventBus } from '../../model/bus.ts';
import type { Clock } from '../../model/clock.ts';
import type { AlertEvent, CheckOutcome } from '../../model/events.ts';
import type { PointValue } from '../../model/points.ts';
import { readJsonWithBackup, writeJsonAtomic } from '../timeline/atomic-file.ts';

/**
 * The alert book: alerts are conditions keyed by (room, condition) — raised once while
 * the condition is false (or, from the readiness watch, cannot be verified), cleared
 * once when it is true again, with the reason it cleared. Never repeated on every tick
 * or re-check, and never cleared by the end of a meeting: a fault that outlives the
 * meeting it was found for is still a fault (the alert keeps that meeting's id).
 * `unknown` outcomes change nothing here; the readiness watch decides when a reading
 * that cannot be verified has lasted long enough to be a fault of its own.
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

/** One alert per room and condition; the meeting it was raised for is a field, not part of the key. */
export const alertId = (room: string, check: string, _meetingId?: string) => `${room}/${check}`;

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
    // Books written before alerts were keyed by room and condition carry a meeting in the id.
    for (const a of read.value?.active ?? []) if (!this.activeById.has(alertId(a.room, a.check))) this.activeById.set(alertId(a.room, a.check), { ...(a as AlertEvent), id: alertId(a.room, a.check) });
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
    const event: AlertEvent = { ...raised, state: 'cleared', message: `${room}: ${check} cleared: ${why}`, reason: why, ts: this.clock.now() };
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
        const e = this.clear(o.room, o.check, o.meetingId, passReason(o));
        if (e) cleared.push(e);
      }
    }
    return { raised, cleared };
  }

  /** The active alert of a room's condition, if any. */
  get(room: string, check: string): AlertEvent | undefined {
    return this.activeById.get(alertId(room, check));
  }

  /** Clears every alert of a meeting (only when the meeting itself is gone: not used at its end). */
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

/** Why a passing check clears its alert: what it sees now. */
export function passReason(o: Pick<CheckOutcome, 'check' | 'observed'>): string {
  const seen = o.observed === undefined || o.observed === null ? '' : Array.isArray(o.observed) ? o.observed.join(', ') : String(o.observed);
  return `${o.check} passes again${seen ? `: ${seen}` : ''}`;
}

function describe(a: AlertInput): string {
  const observed = a.observed === undefined || a.observed === null ? 'nothing' : Array.isArray(a.observed) ? a.observed.join(', ') : String(a.observed);
  const when = a.minutesToStart === undefined ? '' : a.minutesToStart >= 0 ? `; ${Math.round(a.minutesToStart)} min before start` : `; ${Math.round(-a.minutesToStart)} min into the meeting`;
  return `${a.room}: ${a.check} failed: observed ${observed}, expected ${a.expected ?? '?'}${when}`;
}
