import type { Clock, TimerHandle } from '../../model/clock.ts';

/**
 * ONE timer structure for every room and meeting: a binary min-heap keyed by due time,
 * indexed by key so a step can be replaced or cancelled in O(log n). Exactly one clock
 * timer is armed, for the earliest entry. A tick pops only what is due, so its cost is
 * proportional to the steps due (each pop O(log n)), never to the number of rooms or
 * meetings — a naive "scan every meeting each tick" costs O(meetings) per tick.
 *
 * Ties on due time run by `rank` (so a compressed P13 timeline keeps its order: AV on
 * before the readiness check before the final sound check), then by insertion order.
 */
interface Entry<T> {
  key: string;
  due: number;
  rank: number;
  seq: number;
  item: T;
  /** Index in the heap array, kept current by every move. */
  pos: number;
}

/** Work counters, for tests ("popped only what was due") and the schedule bench. */
export interface DueQueueStats {
  scheduled: number;
  cancelled: number;
  popped: number;
  /** Entries looked at by runDue: the popped ones plus one peek at the first not-yet-due entry. */
  examined: number;
  /** Heap moves (each O(1)); a pop or push costs O(log n) of them. */
  siftMoves: number;
  timerArms: number;
  ticks: number;
}

/** setTimeout's longest delay (about 24.8 days); longer waits are re-armed in legs. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Items a single tick may run before it yields, so a handler that keeps re-queueing "now" cannot spin forever. */
const MAX_RUN_PER_TICK = 100_000;

export class DueQueue<T> {
  private heap: Entry<T>[] = [];
  private byKey = new Map<string, Entry<T>>();
  private seq = 0;
  private timer?: TimerHandle;
  private timerDue = Infinity;
  private started = false;
  private draining = false;
  readonly stats: DueQueueStats = { scheduled: 0, cancelled: 0, popped: 0, examined: 0, siftMoves: 0, timerArms: 0, ticks: 0 };

  constructor(
    private clock: Clock,
    private onDue: (item: T, key: string, due: number) => void,
    private onError: (err: unknown, key: string) => void = () => {},
  ) {}

  /** Arms the clock timer; before start() entries only accumulate (runDue() still works). */
  start(): void {
    this.started = true;
    this.arm();
  }

  stop(): void {
    this.started = false;
    this.disarm();
  }

  get size(): number {
    return this.heap.length;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  get(key: string): { due: number; item: T } | undefined {
    const e = this.byKey.get(key);
    return e && { due: e.due, item: e.item };
  }

  /** Due time of the earliest entry. */
  nextDue(): number | undefined {
    return this.heap[0]?.due;
  }

  /** Adds an entry, or moves the entry with the same key to its new time. */
  schedule(key: string, due: number, item: T, rank = 0): void {
    this.stats.scheduled++;
    const existing = this.byKey.get(key);
    if (existing) {
      const earlier = due < existing.due || (due === existing.due && rank < existing.rank);
      Object.assign(existing, { due, rank, item, seq: this.seq++ });
      if (earlier) this.up(existing.pos);
      else this.down(existing.pos);
    } else {
      const e: Entry<T> = { key, due, rank, item, seq: this.seq++, pos: this.heap.length };
      this.heap.push(e);
      this.byKey.set(key, e);
      this.up(e.pos);
    }
    this.arm();
  }

  cancel(key: string): boolean {
    const e = this.byKey.get(key);
    if (!e) return false;
    this.stats.cancelled++;
    this.removeAt(e.pos);
    this.arm();
    return true;
  }

  /** Runs every entry due at or before `now`, earliest first. Returns how many ran. */
  runDue(now = this.clock.now()): number {
    if (this.draining) return 0;
    this.draining = true;
    this.stats.ticks++;
    let ran = 0;
    try {
      while (this.heap.length > 0) {
        this.stats.examined++;
        const top = this.heap[0]!;
        if (top.due > now || ran >= MAX_RUN_PER_TICK) break;
        this.removeAt(0);
        this.stats.popped++;
        ran++;
        try {
          this.onDue(top.item, top.key, top.due);
        } catch (err) {
          this.onError(err, top.key);
        }
      }
    } finally {
      this.draining = false;
    }
    this.arm();
    return ran;
  }

  private arm(): void {
    if (!this.started || this.draining) return;
    const due = this.heap[0]?.due ?? Infinity;
    if (due === this.timerDue && this.timer) return;
    this.disarm();
    if (due === Infinity) return;
    this.timerDue = due;
    this.stats.timerArms++;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, due - this.clock.now()));
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      this.runDue();
    }, delay);
  }

  private disarm(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
  }

  private removeAt(pos: number): void {
    const e = this.heap[pos]!;
    const last = this.heap.pop()!;
    this.byKey.delete(e.key);
    if (last !== e) {
      this.heap[pos] = last;
      last.pos = pos;
      this.up(pos);
      this.down(last.pos);
    }
  }

  private less(a: Entry<T>, b: Entry<T>): boolean {
    return a.due !== b.due ? a.due < b.due : a.rank !== b.rank ? a.rank < b.rank : a.seq < b.seq;
  }

  private up(pos: number): void {
    const h = this.heap;
    const e = h[pos]!;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (!this.less(e, h[parent]!)) break;
      h[pos] = h[parent]!;
      h[pos]!.pos = pos;
      pos = parent;
      this.stats.siftMoves++;
    }
    h[pos] = e;
    e.pos = pos;
  }

  private down(pos: number): void {
    const h = this.heap;
    const e = h[pos]!;
    for (;;) {
      const l = 2 * pos + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const child = r < h.length && this.less(h[r]!, h[l]!) ? r : l;
      if (!this.less(h[child]!, e)) break;
      h[pos] = h[child]!;
      h[pos]!.pos = pos;
      pos = child;
      this.stats.siftMoves++;
    }
    h[pos] = e;
    e.pos = pos;
  }
}
