import type { Room } from '../../config/load.ts';
import { silentLogger, type Logger } from '../../log.ts';
import type { EventBus } from '../../model/bus.ts';
import type { Clock, TimerHandle } from '../../model/clock.ts';
import type { PointValue } from '../../model/points.ts';
import type { AlertBook } from '../alerts/alert-book.ts';
import { deviceOf, deviceOnline } from '../intent/room-points.ts';
import type { StateReader } from '../readiness/checks.ts';
import type { Enforcer, WriteContext, WriteOutcome, WriteRequest } from './enforcement.ts';

/**
 * Level-triggered device control: the engine says what each writable point of a room
 * should be (`want`), and the reconciler keeps it so until told otherwise — not "write
 * once, record done". Per point it holds the desired value and drives the device
 * towards it with verified writes (the Enforcer: interlocks before every attempt,
 * read-back, a few quick retries), and when a round fails it keeps going:
 *   - device offline → nothing is sent; the point is driven again the moment the
 *     device is back (a write issued before the first Modbus poll answered, a unit
 *     that rebooted, a controller that started before its devices);
 *   - not confirmed → retried with a doubling backoff (30 s … 5 min) for as long as
 *     it is wanted, with one `write:<point>` alert while it does not converge;
 *   - refused by an interlock (fire alarm, people present, unknown state) → driven
 *     again when the room's safety inputs change or at the next retry, the interlock
 *     asked anew each time;
 *   - converged, then the device reports another value (a reboot to factory state,
 *     a unit that dropped its setpoint) → re-applied, and logged.
 * `want()` resolves with each point's first outcome (converged, refused, offline, or
 * this round's failure), so a procedure can go on with what it knows; the point
 * itself stays wanted. A scene applied by an attendant adopts its values (`adopt`),
 * so the reconciler never fights a panel press.
 */
export interface ReconcilerOptions {
  rooms: readonly Room[];
  state: StateReader;
  bus: EventBus;
  clock: Clock;
  enforcer: Enforcer;
  alerts?: AlertBook;
  logger?: Logger;
  /** First wait after a failed round; doubles up to retryMaxMs. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** How long want() waits for a device that is offline before answering "offline". Default 30 s. */
  offlineWaitMs?: number;
}

type DesireState = 'pending' | 'converged' | 'offline' | 'refused' | 'failed';

interface Desire {
  room: string;
  point: string;
  device: string;
  value: PointValue;
  ctx: WriteContext;
  state: DesireState;
  /** A round (Enforcer.apply) is running for it. */
  driving: boolean;
  /** Changed while a round ran: drive again when it ends. */
  again: boolean;
  failures: number;
  retry?: TimerHandle;
  waiters: ((o: WriteOutcome) => void)[];
  last?: WriteOutcome;
  /** The value the device confirmed (after clamping to the profile's safe limits). */
  held?: PointValue;
  /** Waiters of a point whose device is away hear "offline" when this runs out. */
  offlineWait?: TimerHandle;
}

const DEFAULT_RETRY_MIN_MS = 30_000;
const DEFAULT_RETRY_MAX_MS = 5 * 60_000;
const DEFAULT_OFFLINE_WAIT_MS = 30_000;
const NUMBER_TOLERANCE = 0.051;
/** After a device comes back, this long counts as "it rebooted": whatever differs is re-applied. */
const REBOOT_WINDOW_MS = 3 * 60_000;

export class Reconciler {
  private rooms: Map<string, Room>;
  private desires = new Map<string, Desire>();
  /** When each device last came back online. */
  private returned = new Map<string, number>();
  private log: Logger;
  private off: (() => void)[] = [];
  private stopped = false;
  readonly stats = { rounds: 0, reapplied: 0, deferredOffline: 0, refused: 0 };

  constructor(private o: ReconcilerOptions) {
    this.rooms = new Map(o.rooms.map((r) => [r.id, r]));
    this.log = o.logger ?? silentLogger;
  }

  start(): void {
    const { bus } = this.o;
    this.off.push(bus.on('device', (h) => (h.online ? this.deviceBack(h.room, h.device) : undefined)));
    this.off.push(bus.on('point', (e) => this.pointChanged(e.room, e.point, e.device)));
  }

  stop(): void {
    this.stopped = true;
    for (const u of this.off) u();
    this.off = [];
    for (const d of this.desires.values()) {
      if (d.retry) this.o.clock.clearTimeout(d.retry);
      this.settle(d, d.last ?? this.outcome(d, { reason: 'the engine is stopping' }));
    }
  }

  /** Sets what each point should be and drives it; resolves with each point's first outcome. */
  want(roomId: string, requests: readonly WriteRequest[], ctx: WriteContext = {}): Promise<WriteOutcome[]> {
    const room = this.rooms.get(roomId);
    return Promise.all(
      requests.map((r) => {
        if (!room) return Promise.resolve(this.outcome({ room: roomId, point: r.set, value: r.value } as Desire, { reason: `unknown room ${roomId}` }));
        const k = key(roomId, r.set);
        let d = this.desires.get(k);
        if (!d) {
          d = { room: roomId, point: r.set, device: deviceOf(room, r.set)?.name ?? '?', value: r.value, ctx, state: 'pending', driving: false, again: false, failures: 0, waiters: [] };
          this.desires.set(k, d);
        } else if (same(d.value, r.value) && d.state === 'converged' && this.holds(d)) {
          // Already so and wanted so: nothing to send; the outcome says it is confirmed.
          d.ctx = ctx;
          return Promise.resolve(d.last ?? this.outcome(d, { confirmed: true }));
        } else {
          d.value = r.value;
          d.ctx = ctx;
          d.state = 'pending';
          d.failures = 0;
        }
        const wait = new Promise<WriteOutcome>((resolve) => d!.waiters.push(resolve));
        this.drive(d);
        return wait;
      }),
    );
  }

  /** A scene (panel, keypad, API) is setting this point: that is now what the room should be (called before it writes, so its own read-back is no divergence). */
  adopt(roomId: string, point: string, value: PointValue): void {
    const d = this.desires.get(key(roomId, point));
    if (!d) return;
    d.value = value;
    d.held = value;
    d.state = 'converged';
    d.failures = 0;
    if (d.retry) this.o.clock.clearTimeout(d.retry);
    d.retry = undefined;
  }

  /** What a point is wanted to be, and how far it got (API, tests, the demo). */
  desired(roomId: string): { point: string; value: PointValue; state: DesireState; reason?: string }[] {
    return [...this.desires.values()].filter((d) => d.room === roomId).map((d) => ({ point: d.point, value: d.value, state: d.state, ...(d.last?.reason && d.state !== 'converged' ? { reason: d.last.reason } : {}) }));
  }

  /** Points wanted but not (yet) so. */
  unconverged(roomId?: string): { room: string; point: string; value: PointValue; state: DesireState }[] {
    return [...this.desires.values()].filter((d) => (roomId === undefined || d.room === roomId) && d.state !== 'converged').map((d) => ({ room: d.room, point: d.point, value: d.value, state: d.state }));
  }

  private drive(d: Desire): void {
    // A job still running when the engine stops must hear back, or engine.stop() waits for it forever.
    if (this.stopped) return this.settle(d, this.outcome(d, { reason: 'the engine is stopping' }));
    if (d.driving) {
      d.again = true;
      return;
    }
    if (d.retry) this.o.clock.clearTimeout(d.retry);
    d.retry = undefined;
    const room = this.rooms.get(d.room)!;
    if (!deviceOnline(this.o.state, room, d.device)) {
      // Nothing is sent to a device that is not there; deviceBack() drives it again. Whoever
      // waits for this point hears back when it answers — a device not polled yet at start-up
      // is seconds away — or, if it stays away, after offlineWaitMs with "offline".
      if (d.state !== 'offline') this.stats.deferredOffline++;
      d.state = 'offline';
      d.last = this.outcome(d, { reason: `device ${d.device} is offline` });
      if (d.waiters.length > 0 && !d.offlineWait)
        d.offlineWait = this.o.clock.setTimeout(() => {
          d.offlineWait = undefined;
          if (d.state === 'offline') this.settle(d, d.last!);
        }, this.o.offlineWaitMs ?? DEFAULT_OFFLINE_WAIT_MS);
      return;
    }
    d.driving = true;
    d.again = false;
    // No longer "offline": the device's own reports while this round runs must not start another one.
    if (d.state === 'offline') d.state = 'pending';
    this.stats.rounds++;
    const value = d.value;
    void this.o.enforcer
      .apply(d.room, d.point, value, d.ctx)
      .then((out) => this.roundDone(d, value, out))
      .catch((err: unknown) => this.roundDone(d, value, this.outcome(d, { reason: `write failed: ${(err as Error).message}` })));
  }

  private roundDone(d: Desire, value: PointValue, out: WriteOutcome): void {
    d.driving = false;
    if (this.stopped) return this.settle(d, out);
    if (!same(value, d.value) || d.again) {
      // Wanted something else meanwhile: that round's result is history.
      this.drive(d);
      return;
    }
    d.last = out;
    if (out.confirmed) {
      d.state = 'converged';
      d.failures = 0;
      d.held = out.sent ?? value;
      this.o.alerts?.clear(d.room, `write:${d.point}`, undefined, `confirmed: ${d.point}=${String(d.held)}`);
    } else if (out.refused) {
      d.state = 'refused';
      this.stats.refused++;
      this.raise(d, out);
      this.scheduleRetry(d);
    } else {
      d.state = this.deviceIsOnline(d) ? 'failed' : 'offline';
      d.failures++;
      if (d.state === 'failed') {
        if (this.alertsOnFailure(d)) this.raise(d, out);
        this.scheduleRetry(d);
      }
    }
    this.settle(d, out);
  }

  /** Does the device still report what it confirmed? */
  private holds(d: Desire): boolean {
    const s = this.o.state.get(d.room, d.point);
    return !!s && s.quality === 'good' && s.value !== null && same(s.value, d.held ?? d.value);
  }

  /**
   * One alert per fault: a display, light or microphone that will not take its command
   * shows in the readiness check that follows (display_on, lights_scene, mic_test); HVAC
   * and fresh air have no check before T-15, so their failed writes are alerts of their own.
   */
  private alertsOnFailure(d: Desire): boolean {
    const kind = this.rooms.get(d.room)?.devices.find((x) => x.name === d.device)?.profile.kind;
    return kind === 'hvac' || kind === 'fresh_air';
  }

  private raise(d: Desire, out: WriteOutcome): void {
    const minutesToStart = d.ctx.minutesToStart === undefined ? undefined : d.ctx.minutesToStart;
    this.o.alerts?.raise({
      room: d.room,
      check: `write:${d.point}`,
      meetingId: d.ctx.meetingId,
      observed: out.observed,
      expected: `${d.point}=${String(out.sent ?? d.value)}`,
      minutesToStart,
      message: `${d.room}: ${d.point} could not be set to ${String(out.sent ?? d.value)}: ${out.reason ?? 'not confirmed'}; roomctl keeps trying`,
    });
  }

  private deviceIsOnline(d: Desire): boolean {
    return deviceOnline(this.o.state, this.rooms.get(d.room)!, d.device);
  }

  private scheduleRetry(d: Desire): void {
    const min = this.o.retryMinMs ?? DEFAULT_RETRY_MIN_MS;
    const max = this.o.retryMaxMs ?? DEFAULT_RETRY_MAX_MS;
    const wait = Math.min(max, min * 2 ** Math.max(0, d.failures - 1));
    if (d.retry) this.o.clock.clearTimeout(d.retry);
    d.retry = this.o.clock.setTimeout(() => {
      d.retry = undefined;
      if (d.state !== 'converged') this.drive(d);
    }, wait);
  }

  /** A device answered again: everything wanted of it that is not so is driven now. */
  private deviceBack(room: string, device: string): void {
    this.returned.set(key(room, device), this.o.clock.now());
    for (const d of this.desires.values()) if (d.room === room && d.device === device && d.state !== 'converged') this.drive(d);
  }

  /**
   * Which confirmed points are re-applied when the device reports something else: plant
   * (HVAC, fresh air, DSP, display) always — a unit that drops its setpoint or mutes
   * itself is not what anyone asked for; lights and doors only just after the device
   * came back (a reboot to factory state), since a person at the wall switch or with a
   * key means it, and the lights-grace rule (P7) deals with lights left on.
   */
  private watchesDivergence(d: Desire): boolean {
    const kind = this.rooms.get(d.room)?.devices.find((x) => x.name === d.device)?.profile.kind;
    if (kind === 'hvac' || kind === 'fresh_air' || kind === 'audio' || kind === 'display') return true;
    const back = this.returned.get(key(d.room, d.device));
    return back !== undefined && this.o.clock.now() - back <= REBOOT_WINDOW_MS;
  }

  private pointChanged(room: string, point: string, device: string): void {
    const d = this.desires.get(key(room, point));
    if (d && !d.driving && d.state === 'converged' && this.watchesDivergence(d)) {
      const s = this.o.state.get(room, point);
      if (s?.quality === 'good' && s.value !== null && !same(s.value, d.held ?? d.value)) {
        // The device no longer holds what was confirmed (a reboot to factory state, a local override).
        this.stats.reapplied++;
        this.log.info({ room, point, reported: s.value, wanted: d.value }, 'reconcile: device diverged from what was confirmed; re-applying');
        d.state = 'pending';
        this.drive(d);
      }
    } else if (d && d.state === 'offline' && this.deviceIsOnline(d)) this.drive(d);
    // Safety inputs changed: refused writes of the rooms they cover are asked again.
    const r = this.rooms.get(room);
    const kind = r?.devices.find((x) => x.name === device)?.profile.kind;
    if (kind === 'fire_alarm' || kind === 'occupancy')
      // A round still running is asked again when it ends (drive() sets `again`): a "present:false, count:0"
      // message applies its two points one after the other, and the second must not be lost.
      for (const x of this.desires.values()) if (x.state === 'refused' && (kind === 'fire_alarm' || x.room === room)) this.drive(x);
  }

  private settle(d: Desire, out: WriteOutcome): void {
    if (d.offlineWait) this.o.clock.clearTimeout(d.offlineWait);
    d.offlineWait = undefined;
    const waiters = d.waiters;
    d.waiters = [];
    for (const w of waiters) w(out);
  }

  private outcome(d: Pick<Desire, 'room' | 'point' | 'value'>, extra: { reason?: string; confirmed?: boolean }): WriteOutcome {
    const observed = this.o.state.get(d.room, d.point)?.value ?? null;
    return { room: d.room, point: d.point, requested: d.value, clamped: false, confirmed: extra.confirmed ?? false, attempts: 0, observed, ...(extra.reason ? { reason: extra.reason } : {}) };
  }
}

const key = (room: string, point: string) => `${room}\u0000${point}`;

function same(a: PointValue, b: PointValue): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= NUMBER_TOLERANCE;
  return a === b;
}
