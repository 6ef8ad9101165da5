import type { Clock, TimerHandle } from '../../model/clock.ts';

/**
 * Sleeps on the injected clock that stop() can cut short. The engine's procedures
 * wait a lot (a scene's `wait_ms`, a mic test's measurement, a close waiting for
 * the room to be empty); on shutdown every wait must end at once so the service
 * stops promptly, and the procedure must learn that it was cut short so it does
 * not act on half a result (see Stopped).
 */
export class Stopped extends Error {
  constructor() {
    super('the engine is stopping');
    this.name = 'Stopped';
  }
}

export class Waits {
  private pending = new Map<TimerHandle, () => void>();
  private stopped = false;

  constructor(private clock: Clock) {}

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Resolves after `ms` of clock time; rejects with Stopped if stop() comes first. */
  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.reject(new Stopped());
    return new Promise((resolve, reject) => {
      const handle = this.clock.setTimeout(() => {
        this.pending.delete(handle);
        resolve();
      }, ms);
      this.pending.set(handle, () => reject(new Stopped()));
    });
  }

  /** Polls `cond` every `everyMs` until it holds or `timeoutMs` has passed; returns whether it held. */
  async until(cond: () => boolean, timeoutMs: number, everyMs: number): Promise<boolean> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      if (cond()) return true;
      const left = deadline - this.clock.now();
      if (left <= 0) return false;
      await this.sleep(Math.min(everyMs, left));
    }
  }

  /** Throws Stopped once stop() was called: procedures call it after every await. */
  check(): void {
    if (this.stopped) throw new Stopped();
  }

  stop(): void {
    this.stopped = true;
    for (const [handle, reject] of this.pending) {
      this.clock.clearTimeout(handle);
      reject();
    }
    this.pending.clear();
  }
}
