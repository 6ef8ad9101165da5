import { createHook } from 'node:async_hooks';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { EventBus } from '../../controller/src/model/bus.ts';
import type { PointUpdate } from '../../controller/src/model/points.ts';

/**
 * bench:influx's load for the event-loop figures: points emitted at a steady rate in
 * small bursts (every 5 ms, as MQTT messages arrive), so that what the event loop
 * waits for is the recorder's own work (sealing batches, answers, spool appends, the
 * flush tick), not one big burst of the bench's own.
 */
export class PacedLoad {
  private timer?: NodeJS.Timeout;
  private t0 = 0;
  sent = 0;
  /** The longest single emit (ms): everything the recorder does for one point, synchronously — a batch sealed or a piece spooled included. */
  longestEmitMs = 0;

  constructor(
    private bus: EventBus,
    private rate: number,
    private update: (i: number, ts: number) => PointUpdate,
  ) {}

  start(): void {
    this.t0 = performance.now();
    this.timer = setInterval(() => {
      // Catch up to the rate from the start: a late turn sends a bigger burst, never fewer points.
      const due = Math.floor(((performance.now() - this.t0) / 1000) * this.rate);
      const now = Date.now();
      while (this.sent < due) {
        const u = this.update(this.sent++, now);
        const t = performance.now();
        this.bus.emit('point', u);
        const took = performance.now() - t;
        if (took > this.longestEmitMs) this.longestEmitMs = took;
      }
    }, 5);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** How long the event loop waited at most (and at the 99th percentile), in ms, while enabled. */
export class LoopDelay {
  private h: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 });

  start(): void {
    this.h.reset();
    this.h.enable();
  }

  stop(): { maxMs: number; p99Ms: number } {
    this.h.disable();
    return { maxMs: this.h.max / 1e6, p99Ms: this.h.percentile(99) / 1e6 };
  }
}

/**
 * The longest setImmediate callback (ms) while enabled: the recorder's flush tick
 * continues in setImmediate slices, so this is its longest synchronous stretch.
 */
export class LongestImmediate {
  private ids = new Set<number>();
  private started = new Map<number, number>();
  longestMs = 0;
  private hook = createHook({
    init: (id, type) => {
      if (type === 'Immediate') this.ids.add(id);
    },
    before: (id) => {
      if (this.ids.has(id)) this.started.set(id, performance.now());
    },
    after: (id) => {
      const t = this.started.get(id);
      if (t === undefined) return;
      this.started.delete(id);
      this.ids.delete(id);
      this.longestMs = Math.max(this.longestMs, performance.now() - t);
    },
  });

  start(): void {
    this.hook.enable();
  }

  stop(): number {
    this.hook.disable();
    return this.longestMs;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
