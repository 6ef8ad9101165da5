import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../src/model/clock.ts';
import { DueQueue } from '../src/engine/timeline/due-queue.ts';

const T0 = Date.parse('2026-11-23T08:00:00+08:00');
const MIN = 60_000;

describe('due queue', () => {
  let ran: string[];
  let queue: DueQueue<string>;

  beforeEach(() => {
    // Virtual time: the queue's one timer runs on the injected clock, which fake timers drive.
    vi.useFakeTimers({ now: T0 });
    ran = [];
    queue = new DueQueue<string>(systemClock, (item) => ran.push(item));
  });
  afterEach(() => {
    queue.stop();
    vi.useRealTimers();
  });

  it('pops only the steps that are due: a tick among 10,000 queued steps of 1,000 rooms looks at the due ones and one more', () => {
    for (let room = 0; room < 1000; room++)
      for (let step = 0; step < 10; step++) queue.schedule(`r${room}#s${step}`, T0 + (60 + room * 7 + step * 13) * MIN, `r${room}#s${step}`);
    queue.schedule('due-1', T0 - MIN, 'due-1');
    queue.schedule('due-2', T0, 'due-2');
    queue.schedule('due-3', T0 - 2 * MIN, 'due-3');
    const before = { ...queue.stats };
    expect(queue.runDue()).toBe(3);
    expect(ran).toEqual(['due-3', 'due-1', 'due-2']);
    expect(queue.stats.popped - before.popped).toBe(3);
    expect(queue.stats.examined - before.examined).toBe(4); // three due + one peek at the next, never a scan
    // Each pop costs O(log n) heap moves: far below the 10,000 a scan of every step would touch.
    expect(queue.stats.siftMoves - before.siftMoves).toBeLessThan(3 * 2 * Math.ceil(Math.log2(10_003)));
    expect(queue.size).toBe(10_000);
  });

  it('runs steps due at the same time by rank, then in the order they were queued', () => {
    queue.schedule('c', T0, 'final_sound', 4);
    queue.schedule('a', T0, 'av_on', 1);
    queue.schedule('b', T0, 'ready', 3);
    queue.schedule('b2', T0, 'ready-second', 3);
    queue.runDue();
    expect(ran).toEqual(['av_on', 'ready', 'ready-second', 'final_sound']);
  });

  it('moves a step when it is scheduled again under the same key, and forgets a cancelled one', () => {
    queue.schedule('x', T0 + 10 * MIN, 'x');
    queue.schedule('y', T0 + 20 * MIN, 'y');
    queue.schedule('x', T0 + 30 * MIN, 'x-moved');
    expect(queue.cancel('y')).toBe(true);
    expect(queue.cancel('y')).toBe(false);
    expect(queue.size).toBe(1);
    expect(queue.get('x')).toEqual({ due: T0 + 30 * MIN, item: 'x-moved' });
    expect(queue.runDue(T0 + 25 * MIN)).toBe(0);
    expect(queue.runDue(T0 + 30 * MIN)).toBe(1);
    expect(ran).toEqual(['x-moved']);
  });

  it('keeps one clock timer, for the earliest step only, and fires each step at its time on virtual time', () => {
    queue.start();
    for (let i = 1; i <= 500; i++) queue.schedule(`s${i}`, T0 + i * MIN, `s${i}`);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(2 * MIN + 30_000);
    expect(ran).toEqual(['s1', 's2']);
    expect(vi.getTimerCount()).toBe(1);
    queue.schedule('early', T0 + 2 * MIN + 40_000, 'early');
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(15_000);
    expect(ran).toEqual(['s1', 's2', 'early']);
    queue.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits longer than the longest setTimeout (a month ahead) in legs, without firing early', () => {
    queue.start();
    queue.schedule('far', T0 + 40 * 24 * 60 * MIN, 'far');
    vi.advanceTimersByTime(30 * 24 * 60 * MIN);
    expect(ran).toEqual([]);
    vi.advanceTimersByTime(10 * 24 * 60 * MIN);
    expect(ran).toEqual(['far']);
  });

  it('reports a failing step and still runs the next one, and lets a step queue another that is due at once', () => {
    const errors: string[] = [];
    const q = new DueQueue<string>(
      systemClock,
      (item) => {
        if (item === 'boom') throw new Error('device write refused');
        ran.push(item);
        if (item === 'first') q.schedule('follow-up', T0, 'follow-up');
      },
      (err, key) => errors.push(`${key}: ${(err as Error).message}`),
    );
    q.schedule('a', T0, 'first');
    q.schedule('b', T0, 'boom');
    q.schedule('c', T0, 'last');
    expect(q.runDue()).toBe(4);
    expect(ran).toEqual(['first', 'last', 'follow-up']);
    expect(errors).toEqual(['b: device write refused']);
  });
});

/** mulberry32: a tiny seeded PRNG, so a failing sequence can be played again from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The reference the heap is checked against: a plain list of the live entries, sorted
 * only when asked for what is due. Order: due time, then rank, then the order in which
 * each entry was last scheduled — the contract the queue's header states.
 */
interface ModelEntry {
  key: string;
  due: number;
  rank: number;
  order: number;
}
class SortedModel {
  entries = new Map<string, ModelEntry>();
  private order = 0;
  schedule(key: string, due: number, rank: number): void {
    this.entries.set(key, { key, due, rank, order: this.order++ });
  }
  cancel(key: string): boolean {
    return this.entries.delete(key);
  }
  runDue(now: number): string[] {
    const due = [...this.entries.values()].filter((e) => e.due <= now).sort((a, b) => a.due - b.due || a.rank - b.rank || a.order - b.order);
    for (const e of due) this.entries.delete(e.key);
    return due.map((e) => e.key);
  }
}

describe('due queue: reschedules keep the heap ordered', () => {
  it('a step moved to a later time does not hide the next one: with steps due at 10, 20 and 30 min, moving the first to 40 runs the step due at 20 at 25, then 30, then 40', () => {
    const ran: string[] = [];
    const q = new DueQueue<string>(systemClock, (item) => ran.push(item));
    q.schedule('a', T0 + 10 * MIN, 'a');
    q.schedule('b', T0 + 20 * MIN, 'b');
    q.schedule('c', T0 + 30 * MIN, 'c');
    q.schedule('a', T0 + 40 * MIN, 'a');
    expect(q.nextDue()).toBe(T0 + 20 * MIN);
    expect(q.runDue(T0 + 25 * MIN)).toBe(1);
    expect(ran).toEqual(['b']);
    expect(q.runDue(T0 + 35 * MIN)).toBe(1);
    expect(q.runDue(T0 + 45 * MIN)).toBe(1);
    expect(ran).toEqual(['b', 'c', 'a']);
    expect(q.size).toBe(0);
  });

  // Several seeds, each thousands of operations; a failure names its seed and the operation.
  it.each([1, 2, 3, 42, 20261203, 0xdeadbeef])(
    'property: random push / move earlier / move later / cancel / runDue sequences run exactly what a sorted list runs, in its order, ties by rank then scheduling order (seed %i)',
    (seed) => {
      const rnd = prng(seed);
      const int = (n: number) => Math.floor(rnd() * n);
      const ran: string[] = [];
      const q = new DueQueue<string>(systemClock, (item) => ran.push(item));
      const model = new SortedModel();
      let now = 0;
      let nextKey = 0;
      const log: string[] = [];
      const fail = (what: string) => `seed ${seed}, after ${log.length} operations (last: ${log.slice(-5).join('; ')}): ${what}`;
      for (let op = 0; op < 4000; op++) {
        const live = [...model.entries.keys()];
        const pick = () => live[int(live.length)]!;
        const roll = int(100);
        // Due times on a coarse grid (and ranks 0–3) so equal due times and rank ties are common.
        if (roll < 35 || live.length === 0) {
          const key = `k${nextKey++}`;
          const due = now + int(40);
          const rank = int(4);
          log.push(`push ${key}@${due}r${rank}`);
          q.schedule(key, due, key, rank);
          model.schedule(key, due, rank);
        } else if (roll < 55) {
          const key = pick();
          const e = model.entries.get(key)!;
          const due = Math.max(now, e.due - 1 - int(20));
          const rank = int(4);
          log.push(`earlier ${key}@${due}r${rank}`);
          q.schedule(key, due, key, rank);
          model.schedule(key, due, rank);
        } else if (roll < 75) {
          const key = pick();
          const e = model.entries.get(key)!;
          const due = e.due + int(30); // same time included: only the rank (or the order) moves
          const rank = int(4);
          log.push(`later ${key}@${due}r${rank}`);
          q.schedule(key, due, key, rank);
          model.schedule(key, due, rank);
        } else if (roll < 85) {
          const key = roll < 83 ? pick() : 'never-queued';
          log.push(`cancel ${key}`);
          expect(q.cancel(key), fail(`cancel(${key})`)).toBe(model.cancel(key));
        } else {
          now += int(12);
          log.push(`runDue(${now})`);
          ran.length = 0;
          const n = q.runDue(now);
          const expected = model.runDue(now);
          expect(ran, fail(`what runDue(${now}) ran`)).toEqual(expected);
          expect(n, fail('runDue count')).toBe(expected.length);
        }
        expect(q.size, fail('size')).toBe(model.entries.size);
        const earliest = Math.min(...[...model.entries.values()].map((e) => e.due));
        expect(q.nextDue(), fail('nextDue')).toBe(model.entries.size ? earliest : undefined);
      }
      // Drain: everything left comes out in the model's order.
      ran.length = 0;
      q.runDue(Number.MAX_SAFE_INTEGER);
      expect(ran, fail('drain')).toEqual(model.runDue(Number.MAX_SAFE_INTEGER));
    },
  );
});
