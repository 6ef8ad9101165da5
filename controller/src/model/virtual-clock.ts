import type { Clock, TimerHandle } from './clock.ts';

/**
 * A clock whose time line is not the wall clock, shared by the controller and the
 * simulated building when they run in one process.
 *
 * - running: virtual time flows `speed`× real time from `start` (the demo,
 *   `roomctl start --simulate --speed N`). One real timer is armed for the earliest
 *   virtual timer, so changing the speed re-plans everything at once.
 * - stepped: time stands still until `advance()` moves it. Due timers fire in time
 *   order (ties in the order they were set), and between two batches the caller's
 *   `settle()` lets network I/O caused by the batch flow until quiet, so the next
 *   batch sees its effects. A test plays a whole day deterministically this way.
 *
 * Socket timeouts never use this clock (see model/clock.ts): they guard real I/O.
 */
export type Settle = () => Promise<void>;

export interface VirtualClockOptions {
  /** Epoch ms at which virtual time begins. */
  start: number;
  /** Running mode at this many times real time; absent → stepped mode. */
  speed?: number;
  /** Receives an exception thrown by a timer callback; default: rethrow (stepped: advance() rejects). */
  onTimerError?: (err: unknown) => void;
}

interface Timer {
  id: number;
  due: number;
  fn: () => void;
}

/** Stops a runaway zero-delay timer loop instead of hanging a test forever. */
const MAX_BATCHES_AT_ONE_INSTANT = 10_000;

export class VirtualClock implements Clock {
  private virtualAnchor: number;
  private realAnchor = performance.now();
  private currentSpeed: number;
  private readonly stepped: boolean;
  private timers = new Map<number, Timer>();
  private nextId = 1;
  private realTimer: NodeJS.Timeout | undefined;
  private advancing = false;
  private paused = false;

  constructor(private options: VirtualClockOptions) {
    if (!Number.isFinite(options.start)) throw new Error('VirtualClock needs a finite start time');
    if (options.speed !== undefined && !(options.speed > 0)) throw new Error(`VirtualClock speed must be > 0, got ${options.speed}`);
    this.virtualAnchor = options.start;
    this.stepped = options.speed === undefined;
    this.currentSpeed = options.speed ?? 0;
  }

  static running(start: number, speed: number): VirtualClock {
    return new VirtualClock({ start, speed });
  }

  static stepped(start: number): VirtualClock {
    return new VirtualClock({ start });
  }

  get mode(): 'running' | 'stepped' {
    return this.stepped ? 'stepped' : 'running';
  }

  /** Running mode: virtual ms per real ms (0 in stepped mode). */
  get speed(): number {
    return this.currentSpeed;
  }

  now(): number {
    if (this.stepped || this.paused) return this.virtualAnchor;
    return Math.floor(this.virtualAnchor + (performance.now() - this.realAnchor) * this.currentSpeed);
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer: Timer = { id: this.nextId++, due: this.now() + delay, fn };
    this.timers.set(timer.id, timer);
    if (!this.stepped) this.arm();
    return timer.id as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as unknown as number);
    if (!this.stepped && this.timers.size === 0) this.disarm();
  }

  /** Resolves after `ms` of virtual time. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Timers waiting to fire. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Virtual time of the earliest pending timer, if any. */
  nextDue(): number | undefined {
    return this.earliest()?.due;
  }

  /** Running mode: change the speed from now on; virtual time does not jump. */
  setSpeed(speed: number): void {
    if (this.stepped) throw new Error('a stepped VirtualClock has no speed; use advance()');
    if (!(speed > 0)) throw new Error(`VirtualClock speed must be > 0, got ${speed}`);
    this.reanchor();
    this.currentSpeed = speed;
    this.arm();
  }

  /** Running mode: hold virtual time still (timers wait) until resume(). */
  pause(): void {
    if (this.stepped || this.paused) return;
    this.reanchor();
    this.paused = true;
    this.disarm();
  }

  resume(): void {
    if (this.stepped || !this.paused) return;
    this.realAnchor = performance.now();
    this.paused = false;
    this.arm();
  }

  /**
   * Stepped mode: moves virtual time forward by `ms`, firing every timer that falls
   * due on the way, batch by batch (one batch = the timers due at one instant). After
   * each batch `settle()` runs with time standing at that instant, so replies to what
   * the batch sent (a Modbus poll, an MQTT command) are stamped with that instant.
   */
  async advance(ms: number, settle?: Settle): Promise<void> {
    if (!(ms >= 0)) throw new Error(`advance() needs ms >= 0, got ${ms}`);
    await this.advanceTo(this.virtualAnchor + ms, settle);
  }

  /** Stepped mode: advance() to an absolute virtual time (no-op if it is not in the future). */
  async advanceTo(target: number, settle?: Settle): Promise<void> {
    if (!this.stepped) throw new Error('advance() is only for a stepped VirtualClock; a running one follows real time');
    if (this.advancing) throw new Error('advance() is already running; await it before advancing again');
    this.advancing = true;
    let firstError: { err: unknown } | undefined;
    try {
      let lastInstant = Number.NaN;
      let batchesAtInstant = 0;
      for (;;) {
        const next = this.earliest();
        if (!next || next.due > target) break;
        if (next.due > this.virtualAnchor) this.virtualAnchor = next.due;
        batchesAtInstant = this.virtualAnchor === lastInstant ? batchesAtInstant + 1 : 0;
        lastInstant = this.virtualAnchor;
        if (batchesAtInstant > MAX_BATCHES_AT_ONE_INSTANT)
          throw new Error(`more than ${MAX_BATCHES_AT_ONE_INSTANT} timer batches at one instant: a zero-delay timer loop?`);
        const error = this.fireDue(this.virtualAnchor);
        if (error && !firstError) firstError = error;
        if (settle) await settle();
      }
      if (target > this.virtualAnchor) this.virtualAnchor = target;
    } finally {
      this.advancing = false;
    }
    if (firstError) throw firstError.err;
  }

  /** Fires every timer due at or before `now` that exists when the batch starts, in (due, id) order. */
  private fireDue(now: number): { err: unknown } | undefined {
    const batch = [...this.timers.values()].filter((t) => t.due <= now).sort((a, b) => a.due - b.due || a.id - b.id);
    let error: { err: unknown } | undefined;
    for (const t of batch) {
      // A callback earlier in the batch may have cleared this one.
      if (!this.timers.delete(t.id)) continue;
      try {
        t.fn();
      } catch (err) {
        if (this.options.onTimerError) this.options.onTimerError(err);
        else if (!error) error = { err };
      }
    }
    return error;
  }

  private earliest(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers.values()) if (!best || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    return best;
  }

  private reanchor(): void {
    this.virtualAnchor = this.now();
    this.realAnchor = performance.now();
  }

  /** Running mode: one real timer for the earliest virtual timer. */
  private arm(): void {
    this.disarm();
    if (this.paused) return;
    const next = this.earliest();
    if (!next) return;
    const realDelay = Math.max(0, (next.due - this.now()) / this.currentSpeed);
    this.realTimer = setTimeout(() => this.onRealTimer(), Math.min(realDelay, 2 ** 31 - 1));
    // Like systemClock: a pending virtual timer alone does not keep the process alive.
    this.realTimer.unref?.();
  }

  private disarm(): void {
    if (this.realTimer) clearTimeout(this.realTimer);
    this.realTimer = undefined;
  }

  private onRealTimer(): void {
    this.realTimer = undefined;
    const error = this.fireDue(this.now());
    this.arm();
    if (error) throw error.err;
  }
}
