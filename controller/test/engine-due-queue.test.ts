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
