import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../src/model/bus.ts';
import { systemClock } from '../src/model/clock.ts';
import type { AlertEvent, CheckOutcome } from '../src/model/events.ts';
import { AlertBook } from '../src/engine/alerts/alert-book.ts';

const T0 = Date.parse('2026-11-23T09:30:00+08:00');

const outcome = (check: string, status: CheckOutcome['status'], observed: string[] = []): CheckOutcome => ({
  room: '3F-301',
  meetingId: 'M1',
  level: 'normal',
  check,
  status,
  observed,
  expected: check === 'display_on' ? 'display on' : 'x',
  ts: T0,
});

describe('alert book', () => {
  let dir: string;
  let bus: EventBus;
  let events: AlertEvent[];

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    dir = mkdtempSync(join(tmpdir(), 'roomctl-alerts-'));
    bus = new EventBus();
    events = [];
    bus.on('alert', (e) => events.push(e));
  });
  afterEach(() => {
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('raises an alert once per room and condition however often the check fails, and clears it once when it passes', () => {
    const book = new AlertBook(bus, systemClock);
    for (let tick = 0; tick < 5; tick++) {
      book.reconcile([outcome('display_on', 'fail', ['display.power=false'])], 30 - tick);
      vi.advanceTimersByTime(60_000);
    }
    book.reconcile([outcome('display_on', 'unknown', ['display.power: stale'])], 25); // a stale reading clears nothing
    book.reconcile([outcome('display_on', 'pass', ['display.power=true'])], 24);
    book.reconcile([outcome('display_on', 'pass', ['display.power=true'])], 23);
    expect(events.map((e) => e.state)).toEqual(['raised', 'cleared']);
    expect(events[0]).toEqual({
      id: '3F-301/display_on',
      room: '3F-301',
      meetingId: 'M1',
      check: 'display_on',
      state: 'raised',
      severity: 'warning',
      message: '3F-301: display_on failed: observed display.power=false, expected display on; 30 min before start',
      observed: ['display.power=false'],
      expected: 'display on',
      minutesToStart: 30,
      ts: T0,
    });
    // The clear says why: what the check sees now.
    expect(events[1]).toMatchObject({ id: '3F-301/display_on', state: 'cleared', reason: 'display_on passes again: display.power=true', ts: T0 + 5 * 60_000 });
    expect(book.active()).toEqual([]);
  });

  it('P3: an alert within 15 minutes of the start is critical; the same condition for the next meeting stays one alert, and the end of a meeting clears nothing', () => {
    const book = new AlertBook(bus, systemClock);
    book.raise({ room: '3F-301', check: 'mic_test', meetingId: 'M1', observed: ['audio.mic.2.level=-90 dBFS'], expected: 'level -50…-3 dBFS', minutesToStart: 5 });
    book.raise({ room: '3F-301', check: 'mic_test', meetingId: 'M2', minutesToStart: 65 });
    expect(events.map((e) => [e.id, e.meetingId, e.severity])).toEqual([['3F-301/mic_test', 'M1', 'critical']]);
    // M1 is over; the mic is still dead: the alert stays until a test passes.
    expect(book.active().map((a) => a.id)).toEqual(['3F-301/mic_test']);
    book.reconcile([{ ...outcome('mic_test', 'pass', ['audio.mic.2.level=-20 dBFS']), meetingId: 'M2' }]);
    expect(events.map((e) => e.state)).toEqual(['raised', 'cleared']);
    expect(events[1]!.reason).toBe('mic_test passes again: audio.mic.2.level=-20 dBFS');
  });

  it('does not raise the same alert again after a restart, and can still clear it', () => {
    const file = join(dir, 'alerts.json');
    const before = new AlertBook(bus, systemClock, { file });
    before.reconcile([outcome('door_unlocked', 'fail', ['door.locked=true'])], 14);
    const after = new AlertBook(bus, systemClock, { file });
    expect(after.load()).toEqual([]);
    expect(after.isActive('3F-301', 'door_unlocked', 'M1')).toBe(true);
    after.reconcile([outcome('door_unlocked', 'fail', ['door.locked=true'])], 13);
    after.reconcile([outcome('door_unlocked', 'pass')], 12);
    expect(events.map((e) => e.state)).toEqual(['raised', 'cleared']);
  });
});
