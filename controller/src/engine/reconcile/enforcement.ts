import type { Room } from '../../config/load.ts';
import { ErrorCode, isRoomctlError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../log.ts';
import type { PointWriter } from '../../model/adapter.ts';
import type { EventBus } from '../../model/bus.ts';
import type { Clock } from '../../model/clock.ts';
import type { PointState, PointValue } from '../../model/points.ts';
import type { AlertBook } from '../alerts/alert-book.ts';
import type { StateReader } from '../readiness/checks.ts';
import { Interlocks } from './interlocks.ts';

/**
 * Carries out the writes of a step and proves them: each write goes through the
 * PointWriter (which type-checks and clamps to the profile's safe limits), then the
 * enforcer waits — on the injected clock — until the room state shows the value sent,
 * fresh (`good`). No confirmation within the timeout → write again, with a doubling
 * backoff; still nothing after the last attempt → an alert (`write:<point>`), cleared
 * by the next confirmed write of that point.
 *
 * Safety (interlocks.ts): asked before every attempt, retries included — a door is
 * never locked while a fire alarm covering the room (the site's, by default) is
 * active, while people are present, or while either is unknown (stale, offline or
 * rejected readings prove nothing). Unlocking is always allowed.
 */
export interface EnforcerOptions {
  rooms: readonly Pick<Room, 'id' | 'devices'>[];
  state: StateReader;
  /** Point events wake a waiting confirmation at once instead of polling. */
  bus: EventBus;
  writer: PointWriter;
  clock: Clock;
  alerts?: AlertBook;
  /** How long a device has to show a written value (Modbus polls every 5 s by default). */
  verifyTimeoutMs?: number;
  attempts?: number;
  /** Wait before the second attempt; doubles after each further failure. */
  backoffMs?: number;
  logger?: Logger;
}

export interface WriteRequest {
  set: string;
  value: PointValue;
}

export interface WriteOutcome {
  room: string;
  point: string;
  requested: PointValue;
  /** Value sent after clamping; undefined if no write was accepted. */
  sent?: PointValue;
  clamped: boolean;
  confirmed: boolean;
  attempts: number;
  /** What the room state showed last. */
  observed: PointValue | null;
  /** Why it was not confirmed (refused by a safety rule, write error, no read-back). */
  reason?: string;
  /** An interlock refused it (nothing was sent on that attempt). */
  refused?: boolean;
}

export interface WriteContext {
  meetingId?: string;
  minutesToStart?: number;
}

/** Write errors that retrying cannot fix. */
const PERMANENT = new Set<number>([ErrorCode.PointUnknown, ErrorCode.PointNotWritable, ErrorCode.PointValueInvalid]);

/** Numbers read back through a register scale (e.g. 0.1 °C) may differ by rounding only. */
const NUMBER_TOLERANCE = 0.051;

export class Enforcer {
  readonly interlocks: Interlocks;
  private log: Logger;
  private stopped = false;
  private waits = new Set<() => void>();

  constructor(private options: EnforcerOptions) {
    this.interlocks = new Interlocks(options.rooms, options.state);
    this.log = options.logger ?? silentLogger;
  }

  /** Abandons every wait in progress (they resolve unconfirmed); no write is started afterwards. */
  stop(): void {
    this.stopped = true;
    for (const release of [...this.waits]) release();
  }

  /** Writes in order, each confirmed (or given up) before the next, like a scene's steps. */
  async applyAll(room: string, writes: WriteRequest[], ctx: WriteContext = {}): Promise<WriteOutcome[]> {
    const out: WriteOutcome[] = [];
    for (const w of writes) out.push(await this.apply(room, w.set, w.value, ctx));
    return out;
  }

  async apply(room: string, point: string, value: PointValue, ctx: WriteContext = {}): Promise<WriteOutcome> {
    const o = this.options;
    const outcome: WriteOutcome = { room, point, requested: value, clamped: false, confirmed: false, attempts: 0, observed: o.state.get(room, point)?.value ?? null };
    const attempts = o.attempts ?? 3;
    let backoff = o.backoffMs ?? 2000;
    let tries = 0;
    while (tries < attempts && !this.stopped) {
      if (tries > 0) {
        await this.sleep(backoff);
        backoff *= 2;
        if (this.stopped) break;
      }
      tries++;
      // Before every attempt, not once per procedure: an alarm raised during the backoff stops the retry.
      const refusal = this.interlocks.refusal(room, point, value);
      if (refusal) {
        outcome.reason = `refused: ${refusal}`;
        outcome.refused = true;
        outcome.observed = o.state.get(room, point)?.value ?? null;
        this.log.warn({ room, point }, `enforcement: ${point}=${String(value)} ${outcome.reason}`);
        break;
      }
      outcome.attempts++;
      try {
        const result = await o.writer.write(room, point, value);
        outcome.sent = result.sent;
        outcome.clamped = result.clamped;
      } catch (err) {
        outcome.reason = isRoomctlError(err) ? `write failed (${err.code}): ${err.message}` : `write failed: ${(err as Error).message}`;
        // An unknown point or a bad value will not get better by retrying.
        if (isRoomctlError(err) && PERMANENT.has(err.code)) break;
        continue;
      }
      const seen = await this.confirm(room, point, outcome.sent!, o.verifyTimeoutMs ?? 15_000);
      outcome.observed = seen.value;
      if (seen.ok) {
        outcome.confirmed = true;
        delete outcome.reason;
        break;
      }
      outcome.reason = `not confirmed: read back ${describe(seen)} within ${(o.verifyTimeoutMs ?? 15_000) / 1000} s`;
    }
    return this.finish(outcome, ctx);
  }

  /** Why a lock must not be engaged now, or undefined if it may. */
  lockRefusal(room: string): string | undefined {
    return this.interlocks.lockRefusal(room);
  }

  private finish(outcome: WriteOutcome, ctx: WriteContext): WriteOutcome {
    const alerts = this.options.alerts;
    const check = `write:${outcome.point}`;
    if (outcome.confirmed) alerts?.clear(outcome.room, check, ctx.meetingId);
    else if (alerts && !this.stopped)
      alerts.raise({
        room: outcome.room,
        check,
        meetingId: ctx.meetingId,
        observed: outcome.observed,
        expected: `${outcome.point}=${outcome.sent ?? outcome.requested}`,
        minutesToStart: ctx.minutesToStart,
        message: `${outcome.room}: ${outcome.point} could not be set to ${outcome.sent ?? outcome.requested}: ${outcome.reason}`,
      });
    return outcome;
  }

  /** Resolves when the point shows `expected` with good quality, or at the timeout. */
  private confirm(room: string, point: string, expected: PointValue, timeoutMs: number): Promise<{ ok: boolean; value: PointValue | null; quality?: string }> {
    const { state, bus, clock } = this.options;
    return new Promise((resolve) => {
      let settled = false;
      const done = (ok: boolean) => {
        if (settled) return;
        settled = true;
        off();
        clock.clearTimeout(timer);
        this.waits.delete(release);
        const s = state.get(room, point);
        resolve({ ok, value: s?.value ?? null, quality: s?.quality });
      };
      const release = () => done(false);
      const check = () => {
        if (matches(state.get(room, point), expected)) done(true);
      };
      const off = bus.on('point', (e) => {
        if (e.room === room && e.point === point) check();
      });
      const timer = clock.setTimeout(() => done(false), timeoutMs);
      this.waits.add(release);
      check();
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const release = () => {
        this.waits.delete(release);
        this.options.clock.clearTimeout(timer);
        resolve();
      };
      const timer = this.options.clock.setTimeout(release, ms);
      this.waits.add(release);
    });
  }
}

function matches(s: PointState | undefined, expected: PointValue): boolean {
  if (!s || s.quality !== 'good' || s.value === null) return false;
  if (typeof expected === 'number' && typeof s.value === 'number') return Math.abs(s.value - expected) <= NUMBER_TOLERANCE;
  return s.value === expected;
}

function describe(seen: { value: PointValue | null; quality?: string }): string {
  if (seen.value === null) return 'nothing';
  return seen.quality && seen.quality !== 'good' ? `${seen.value} (${seen.quality})` : String(seen.value);
}
