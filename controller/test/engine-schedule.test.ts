import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, isRoomctlError } from '../src/errors.ts';
import { systemClock } from '../src/model/clock.ts';
import { Schedule, type ScheduleChange } from '../src/engine/timeline/schedule.ts';
import { publicMeeting } from '../src/model/meetings.ts';

const T0 = Date.parse('2026-11-23T08:00:00+08:00');
const at = (hhmm: string) => Date.parse(`2026-11-23T${hhmm}:00+08:00`);
const booking = (id: string, start: string, end: string, extra: Record<string, unknown> = {}) => ({ id, room: '3F-301', start: at(start), end: at(end), ...extra });

function errorOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('schedule', () => {
  let dir: string;
  let file: string;
  const open = () => {
    const s = new Schedule({ clock: systemClock, rooms: ['3F-301', '5F-501'], file });
    return { s, load: s.load() };
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    dir = mkdtempSync(join(tmpdir(), 'roomctl-schedule-'));
    file = join(dir, 'meetings.json');
  });
  afterEach(() => {
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects a booking that overlaps another in the same room with a clear error, but accepts back-to-back and other rooms', () => {
    const { s } = open();
    s.upsert(booking('A', '09:00', '10:00'));
    const err = errorOf(() => s.upsert(booking('B', '09:30', '10:30')));
    expect(isRoomctlError(err, ErrorCode.MeetingOverlap)).toBe(true);
    expect((err as Error).message).toMatch(/meeting B .* overlaps meeting A .* in room 3F-301/);
    expect(s.upsert(booking('C', '10:00', '11:00')).change).toBe('added');
    expect(s.upsert({ ...booking('D', '09:30', '10:30'), room: '5F-501' }).change).toBe('added');
    expect(s.inRoom('3F-301').map((m) => m.id)).toEqual(['A', 'C']);
  });

  it('rejects invalid bookings naming every problem, refuses zoneless times and unknown rooms, and never quotes the title (P15)', () => {
    const { s } = open();
    const bad = errorOf(() => s.upsert({ id: 'X', room: '3F-301', start: '2026-11-23T09:00:00', end: at('10:00'), level: 'vip9', title: 'x'.repeat(600) }));
    expect(isRoomctlError(bad, ErrorCode.MeetingInvalid)).toBe(true);
    const msg = (bad as Error).message;
    expect(msg).toMatch(/start: .*ISO time with a zone/);
    expect(msg).toMatch(/level: expected one of "normal", "vip3", "vip2", "vip1"/);
    expect(msg).toMatch(/title: invalid \(not shown, P15\)/);
    expect(msg).not.toContain('xxxx');
    expect(isRoomctlError(errorOf(() => s.upsert(booking('Y', '10:00', '09:00'))), ErrorCode.MeetingInvalid)).toBe(true);
    expect(isRoomctlError(errorOf(() => s.upsert({ ...booking('Z', '09:00', '10:00'), room: '9F-999' })), ErrorCode.MeetingRoomUnknown)).toBe(true);
    expect(isRoomctlError(errorOf(() => s.upsert({ ...booking('W', '06:00', '07:00') })), ErrorCode.MeetingInPast)).toBe(true);
    expect(s.meetings()).toEqual([]);
  });

  it('upserts by external id: an identical re-send is unchanged, new details are an update, new times are a move', () => {
    const { s } = open();
    const changes: ScheduleChange[] = [];
    s.onChange((c) => changes.push(c));
    s.upsert(booking('A', '09:00', '10:00', { attendees: 8, start: '2026-11-23T09:00:00+08:00' }));
    expect(s.upsert(booking('A', '09:00', '10:00', { attendees: 8 })).change).toBe('unchanged');
    vi.advanceTimersByTime(60_000);
    expect(s.upsert(booking('A', '09:00', '10:00', { attendees: 12 })).change).toBe('updated');
    expect(s.get('A')!.plannedAt).toBe(T0); // an update is not a new booking: P13 lateness unchanged
    expect(s.upsert(booking('A', '11:00', '12:00', { attendees: 12 })).change).toBe('moved');
    expect(s.get('A')!.plannedAt).toBe(T0 + 60_000);
    expect(changes.map((c) => c.kind)).toEqual(['added', 'updated', 'moved']);
  });

  it('refuses a move into an overlap and leaves the meeting where it was', () => {
    const { s } = open();
    s.upsert(booking('A', '09:00', '10:00'));
    s.upsert(booking('B', '10:00', '11:00'));
    expect(isRoomctlError(errorOf(() => s.move('B', at('09:30'), at('10:30'))), ErrorCode.MeetingOverlap)).toBe(true);
    expect(s.get('B')).toMatchObject({ start: at('10:00'), end: at('11:00') });
    const moved = s.move('B', at('13:00'), at('14:00'), '5F-501');
    expect(moved).toMatchObject({ room: '5F-501', start: at('13:00') });
    expect(s.inRoom('3F-301').map((m) => m.id)).toEqual(['A']);
    expect(s.nextIn('5F-501', at('12:00'))?.id).toBe('B');
  });

  it('cancels a meeting: its slot is free again, the change is announced once, and a second cancel is harmless', () => {
    const { s } = open();
    const changes: ScheduleChange[] = [];
    s.onChange((c) => changes.push(c));
    s.upsert(booking('A', '09:00', '10:00'));
    s.cancel('A');
    s.cancel('A');
    expect(s.get('A')!.status).toBe('cancelled');
    expect(s.meetings()).toEqual([]);
    expect(s.upsert(booking('B', '09:00', '10:00')).change).toBe('added');
    expect(changes.map((c) => c.kind)).toEqual(['added', 'cancelled', 'added']);
    expect(isRoomctlError(errorOf(() => s.cancel('nope')), ErrorCode.MeetingUnknown)).toBe(true);
  });

  it('keeps every meeting and every completed step across a restart: a fresh Schedule reading the same file sees them all', () => {
    const first = open().s;
    first.batch(() => {
      first.upsert(booking('A', '09:00', '10:00', { level: 'vip1', attendees: 30, title: 'Budget review', organizer: 'Office 2' }));
      first.upsert(booking('B', '10:00', '11:00'));
      first.upsert({ ...booking('C', '09:00', '10:00'), room: '5F-501' });
    });
    first.cancel('C');
    first.markStepDone('A', 'av_on');
    const { s: second, load } = open();
    expect(load).toMatchObject({ meetings: 3, source: 'file', problems: [], skipped: [] });
    expect(second.get('A')).toEqual(first.get('A'));
    expect(second.get('C')!.status).toBe('cancelled');
    expect([...second.stepsDone('A')]).toEqual(['av_on']);
    expect(isRoomctlError(errorOf(() => second.upsert(booking('D', '09:30', '09:45'))), ErrorCode.MeetingOverlap)).toBe(true);
    expect(publicMeeting(second.get('A')!)).not.toHaveProperty('title');
  });

  it('reports a truncated file, moves it aside for inspection and carries on from the previous good copy', () => {
    const first = open().s;
    first.upsert(booking('A', '09:00', '10:00'));
    first.upsert(booking('B', '10:00', '11:00'));
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, Math.floor(text.length / 2))); // a torn write
    const { s: second, load } = open();
    expect(load.source).toBe('backup');
    expect(load.problems.join('\n')).toMatch(/not valid JSON .*perhaps truncated/);
    expect(second.meetings().map((m) => m.id)).toEqual(['A']); // the copy before B was added
    expect(readdirSync(dir).some((f) => f.startsWith('meetings.json.corrupt-'))).toBe(true);
    // The recovered schedule is the main file again and keeps working.
    second.upsert(booking('C', '12:00', '13:00'));
    const { s: third, load: again } = open();
    expect(again).toMatchObject({ source: 'file', problems: [] });
    expect(third.meetings().map((m) => m.id)).toEqual(['A', 'C']);
  });

  it('skips a bad entry in the file with where and why, and loads the rest', () => {
    const first = open().s;
    first.upsert(booking('A', '09:00', '10:00'));
    const json = JSON.parse(readFileSync(file, 'utf8'));
    json.meetings.push({ id: 'bad', room: '3F-301', start: 'soon' }, { ...json.meetings[0], id: 'twin' });
    writeFileSync(file, JSON.stringify(json));
    const { s, load } = open();
    expect(load.meetings).toBe(1);
    expect(load.skipped[0]).toMatch(/^meetings\[1\]: start: /);
    expect(load.skipped[1]).toMatch(/^meetings\[2\]: twin overlaps A in room 3F-301/);
    expect(s.meetings().map((m) => m.id)).toEqual(['A']);
  });
});
