import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../src/model/clock.ts';
import { Schedule } from '../src/engine/timeline/schedule.ts';
import { planMeeting, type Step } from '../src/engine/intent/steps.ts';
import type { JobOutcome } from '../src/engine/jobs/job.ts';
import { Timeline } from '../src/engine/timeline/timeline.ts';
import type { Meeting } from '../src/model/meetings.ts';
import { siteFromYaml } from './helpers/site.ts';

const site = siteFromYaml(`
site: { id: t, name: Test, timezone: Asia/Shanghai }
rooms:
  - id: R1
    name: Room 1
    capacity: 20
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, unit: 1 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: t/R1/lights } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: t/R1/dsp } }
  - id: R2
    name: Room 2 (no HVAC unit)
    capacity: 6
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: t/R2/lights } }
`);
const room = site.rooms[0]!;
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const T0 = Date.parse('2026-11-23T07:00:00+08:00');
const at = (hhmm: string, day = 23) => Date.parse(`2026-11-${day}T${hhmm}:00+08:00`);

function meeting(id: string, start: number, end: number, extra: Partial<Meeting> = {}): Meeting {
  return { id, room: 'R1', start, end, level: 'normal', attendees: 10, status: 'scheduled', plannedAt: T0, updatedAt: T0, ...extra };
}
const byName = (steps: Step[]) => Object.fromEntries(steps.map((s) => [s.name, s]));
const minutesBefore = (start: number, s: Step | undefined) => (s ? (start - s.nominal) / MIN : undefined);

describe('timeline expansion', () => {
  it('P2, P16, P4, P3, P6, P7: a normal meeting gets optimal-start evaluation, AV and fresh air at T-30, ready at T-15, final sound at T-5, the verdict and monitoring at start, end and close', () => {
    const m = meeting('M', at('10:00'), at('11:00'), { plannedAt: at('06:00') });
    const plan = planMeeting(m, room, { now: at('06:00') });
    const s = byName(plan.steps);
    expect(plan.steps.map((x) => x.name)).toEqual(['hvac_precondition', 'av_on', 'ready', 'final_sound', 'session_start', 'monitor', 'no_show', 'end', 'close']);
    expect(minutesBefore(m.start, s.av_on)).toBe(30);
    expect(s.av_on!.procedures).toEqual(['P2', 'P16']);
    expect(minutesBefore(m.start, s.ready)).toBe(15);
    expect(minutesBefore(m.start, s.final_sound)).toBe(5);
    expect(s.session_start!.due).toBe(m.start);
    expect(minutesBefore(m.start, s.no_show)).toBe(-15);
    expect(s.close).toMatchObject({ due: m.end, hvacAfter: 'off', procedures: ['P7'] });
    expect(plan.minutesLate).toBe(0);
    expect(plan.steps.every((x) => x.lateMinutes === 0 && x.due === x.nominal)).toBe(true);
  });

  it('P5: the HVAC evaluation opens early enough for the longest pre-conditioning, and a room without an HVAC unit has none', () => {
    const m = meeting('M', at('10:00'), at('11:00'));
    expect(minutesBefore(m.start, byName(planMeeting(m, room, { now: T0, hvacEvaluateLeadMinutes: 120 }).steps).hvac_precondition)).toBe(135);
    expect(planMeeting({ ...m, room: 'R2' }, site.rooms[1]!, { now: T0 }).steps.map((x) => x.name)).not.toContain('hvac_precondition');
  });

  it('P10: a vip1 meeting gets full equipment checks 7 days and 1 day before', () => {
    const m = meeting('V1', at('10:00', 30), at('12:00', 30), { level: 'vip1' });
    const s = byName(planMeeting(m, room, { now: T0 }).steps);
    expect((m.start - s['vip_check@7d']!.due) / DAY).toBe(7);
    expect((m.start - s['vip_check@1d']!.due) / DAY).toBe(1);
    expect(s['vip_check@7d']!.procedures).toEqual(['P10']);
  });

  it('P11: a vip2 meeting gets a full equipment check 2 days before', () => {
    const m = meeting('V2', at('10:00', 27), at('12:00', 27), { level: 'vip2' });
    const checks = planMeeting(m, room, { now: T0 }).steps.filter((x) => x.kind === 'vip_check');
    expect(checks.map((x) => [x.name, (m.start - x.due) / DAY, x.procedures[0]])).toEqual([['vip_check@2d', 2, 'P11']]);
  });

  it('P12: a vip3 meeting gets its full check and AV on 2 hours before, the check after AV is on', () => {
    const m = meeting('V3', at('14:00'), at('15:00'), { level: 'vip3' });
    const plan = planMeeting(m, room, { now: T0 });
    const s = byName(plan.steps);
    expect(minutesBefore(m.start, s.av_on)).toBe(120);
    expect(minutesBefore(m.start, s['vip_check@120m'])).toBe(120);
    expect(plan.steps.findIndex((x) => x.name === 'av_on')).toBeLessThan(plan.steps.findIndex((x) => x.name === 'vip_check@120m'));
    expect(s.av_on!.procedures).toContain('P12');
  });

  it('P13: a meeting booked 10 minutes before start gets its passed steps at once, in order, and records that it is 20 minutes late', () => {
    const now = at('09:50');
    const m = meeting('adhoc', at('10:00'), at('11:00'), { plannedAt: now });
    const plan = planMeeting(m, room, { now });
    const due = plan.steps.filter((x) => x.due === now).map((x) => [x.name, x.lateMinutes]);
    expect(due).toEqual([['hvac_precondition', 0], ['av_on', 20], ['ready', 5]]);
    expect(byName(plan.steps).final_sound!.due).toBe(at('09:55'));
    expect(plan.minutesLate).toBe(20);
  });

  it('P13 with P10: a vip1 meeting booked 3 days ahead runs the missed 7-day check at once and keeps the 1-day check', () => {
    const m = meeting('V1', at('10:00', 26), at('12:00', 26), { level: 'vip1' });
    const plan = planMeeting(m, room, { now: at('10:00', 23) });
    const checks = plan.steps.filter((x) => x.kind === 'vip_check');
    expect(checks.map((x) => [x.name, x.due])).toEqual([['vip_check@7d', at('10:00', 23)], ['vip_check@1d', at('10:00', 25)]]);
    expect(plan.minutesLate).toBe(0); // the on-day preparation is on time
    // Booked 12 hours ahead: both checks have passed; one check runs now, not two.
    const late = planMeeting(m, room, { now: at('22:00', 25) });
    expect(late.steps.filter((x) => x.kind === 'vip_check').map((x) => x.name)).toEqual(['vip_check@1d']);
    expect(late.omitted).toContainEqual({ name: 'vip_check@7d', why: 'superseded by vip_check@1d, run now' });
  });

  it('P7: back-to-back meetings do not close the room in between; the last one closes with HVAC set back or off by the horizon', () => {
    const first = meeting('A', at('09:00'), at('10:00'));
    const next = meeting('B', at('10:30'), at('11:30')); // its AV step (10:00) comes before a close could (10:10)
    const a = planMeeting(first, room, { now: T0, next });
    expect(a.steps.map((x) => x.name)).not.toContain('close');
    expect(a.backToBackWith).toBe('B');
    const later = meeting('C', at('11:00'), at('12:00')); // a gap: close, HVAC set back (next within 120 min)
    expect(byName(planMeeting(first, room, { now: T0, next: later }).steps).close!.hvacAfter).toBe('setback');
    const afternoon = meeting('D', at('15:00'), at('16:00'));
    expect(byName(planMeeting(first, room, { now: T0, next: afternoon }).steps).close!.hvacAfter).toBe('off');
  });
});

describe('timeline on virtual time', () => {
  let dir: string;
  let ran: { name: string; meeting: string; at: number; late: number }[];
  let timelines: Timeline[];

  const open = (run?: (step: Step) => JobOutcome | void) => {
    const schedule = new Schedule({ clock: systemClock, rooms: ['R1', 'R2'], file: join(dir, 'meetings.json') });
    schedule.load();
    let tl: Timeline;
    tl = new Timeline({
      schedule,
      rooms: site.rooms,
      clock: systemClock,
      run: (step) => {
        ran.push({ name: step.name, meeting: step.meetingId, at: Date.now(), late: step.lateMinutes });
        return run?.(step);
      },
    });
    timelines.push(tl);
    tl.start();
    return { schedule, timeline: tl };
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    dir = mkdtempSync(join(tmpdir(), 'roomctl-timeline-'));
    ran = [];
    timelines = [];
  });
  afterEach(async () => {
    for (const t of timelines) await t.stop();
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  const ranNames = (id: string) => ran.filter((r) => r.meeting === id).map((r) => r.name);

  it('P2, P4, P3, P7: plays a morning on virtual time, running every step once at its time', () => {
    const { schedule } = open();
    schedule.upsert({ id: 'M', room: 'R1', start: at('10:00'), end: at('11:00') });
    vi.advanceTimersByTime(at('09:44') - T0);
    expect(ranNames('M')).toEqual(['hvac_precondition', 'av_on']);
    vi.advanceTimersByTime(at('12:00') - at('09:44'));
    expect(ranNames('M')).toEqual(['hvac_precondition', 'av_on', 'ready', 'final_sound', 'session_start', 'monitor', 'no_show', 'end', 'close']);
    expect(ran.find((r) => r.name === 'ready')!.at).toBe(at('09:45'));
    expect(ran.find((r) => r.name === 'final_sound')!.at).toBe(at('09:55'));
  });

  it('P13: an ad-hoc meeting booked 10 minutes before start is prepared at once and reports how late', () => {
    vi.setSystemTime(at('09:50'));
    const { schedule, timeline } = open();
    schedule.upsert({ id: 'adhoc', room: 'R1', start: at('10:00'), end: at('10:30') });
    expect(timeline.plan('adhoc')!.minutesLate).toBe(20);
    vi.advanceTimersByTime(0);
    expect(ran.filter((r) => r.at === at('09:50')).map((r) => [r.name, r.late])).toEqual([['hvac_precondition', 0], ['av_on', 20], ['ready', 5]]);
  });

  it('re-plans when a meeting is moved or cancelled: steps follow the move, a cancelled meeting runs nothing, and the meeting before gets its close back', () => {
    const { schedule, timeline } = open();
    schedule.upsert({ id: 'A', room: 'R1', start: at('09:00'), end: at('10:00') });
    schedule.upsert({ id: 'B', room: 'R1', start: at('10:15'), end: at('11:00') });
    expect(timeline.pending('A').map((s) => s.name)).not.toContain('close'); // back-to-back with B
    schedule.move('B', at('14:00'), at('15:00'));
    expect(timeline.pending('A').map((s) => s.name)).toContain('close');
    expect(timeline.pending('B').find((s) => s.name === 'ready')!.due).toBe(at('13:45'));
    schedule.upsert({ id: 'C', room: 'R1', start: at('10:10'), end: at('10:40') });
    expect(timeline.pending('A').map((s) => s.name)).not.toContain('close'); // C now follows A closely
    schedule.cancel('C');
    expect(timeline.pending('C')).toEqual([]);
    expect(timeline.pending('A').map((s) => s.name)).toContain('close');
    vi.advanceTimersByTime(at('16:00') - T0);
    expect(ranNames('C')).toEqual([]);
    expect(ran.find((r) => r.meeting === 'B' && r.name === 'ready')!.at).toBe(at('13:45'));
    expect(ranNames('A')).toContain('close');
  });

  it('keeps a meeting a week ahead as a single queue entry until its first step is a day away, then plans it in full', () => {
    const { schedule, timeline } = open();
    schedule.upsert({ id: 'far', room: 'R1', start: at('10:00', 30), end: at('11:00', 30) });
    expect(timeline.stats.queued).toBe(1);
    expect(timeline.pending('far').map((s) => s.name)).toContain('ready'); // planned on demand for anyone asking
    vi.advanceTimersByTime(at('06:44', 29) - T0);
    expect(timeline.stats.queued).toBe(1);
    vi.advanceTimersByTime(MIN); // 24 h before the 06:45 HVAC evaluation
    expect(timeline.stats.queued).toBe(9);
    vi.advanceTimersByTime(at('12:00', 30) - at('06:45', 29));
    expect(ranNames('far')).toEqual(['hvac_precondition', 'av_on', 'ready', 'final_sound', 'session_start', 'monitor', 'no_show', 'end', 'close']);
    expect(ran.find((r) => r.name === 'ready')!.at).toBe(at('09:45', 30));
  });

  it('does not mark a step whose job answered "later" as done: a close waiting for the room to be vacant runs again later', () => {
    let attempts = 0;
    const { schedule } = open((step) => {
      if (step.name === 'close' && ++attempts < 3) return { kind: 'later', at: Date.now() + 5 * MIN };
    });
    schedule.upsert({ id: 'M', room: 'R1', start: at('09:00'), end: at('10:00') });
    vi.advanceTimersByTime(at('10:30') - T0);
    expect(ran.filter((r) => r.name === 'close').map((r) => r.at)).toEqual([at('10:00'), at('10:05'), at('10:10')]);
    expect([...schedule.stepsDone('M')]).toContain('close');
  });

  it('P6: in-session monitoring runs from the start until the end while its job answers "later"', () => {
    const { schedule } = open((step) => {
      if (step.kind === 'monitor' && Date.now() + 10 * MIN < at('11:00')) return { kind: 'later', at: Date.now() + 10 * MIN };
    });
    schedule.upsert({ id: 'M', room: 'R1', start: at('10:00'), end: at('11:00') });
    vi.advanceTimersByTime(at('12:00') - T0);
    expect(ran.filter((r) => r.name === 'monitor').map((r) => (r.at - at('10:00')) / MIN)).toEqual([0, 10, 20, 30, 40, 50]);
  });

  it('does not run a step twice when the meeting is re-planned while that step is still running', async () => {
    let release: () => void = () => {};
    const schedule = new Schedule({ clock: systemClock, rooms: ['R1'], file: join(dir, 'meetings.json') });
    schedule.load();
    const tl = new Timeline({
      schedule,
      rooms: site.rooms,
      clock: systemClock,
      run: (step) => {
        ran.push({ name: step.name, meeting: step.meetingId, at: Date.now(), late: step.lateMinutes });
        if (step.name === 'av_on') return new Promise<void>((resolve) => (release = resolve)); // AV takes a while
      },
    });
    timelines.push(tl);
    tl.start();
    schedule.upsert({ id: 'A', room: 'R1', start: at('10:00'), end: at('11:00') });
    vi.advanceTimersByTime(at('09:31') - T0);
    expect(tl.stats.inFlight).toBe(1);
    schedule.upsert({ id: 'B', room: 'R1', start: at('11:15'), end: at('12:00') }); // re-plans A (now back-to-back)
    vi.advanceTimersByTime(MIN);
    release();
    await vi.advanceTimersByTimeAsync(at('10:00') - at('09:32'));
    expect(ranNames('A')).toEqual(['hvac_precondition', 'av_on', 'ready', 'final_sound', 'session_start', 'monitor']);
    expect([...schedule.stepsDone('A')]).toContain('av_on');
  });

  it('resumes after a restart mid-preparation without repeating steps already done, and loses no meeting', async () => {
    const first = open();
    first.schedule.upsert({ id: 'M', room: 'R1', start: at('10:00'), end: at('11:00') });
    first.schedule.upsert({ id: 'N', room: 'R1', start: at('14:00'), end: at('15:00') });
    vi.advanceTimersByTime(at('09:40') - T0); // AV is on, the readiness check not yet run
    await first.timeline.stop(); // the controller dies
    expect(ranNames('M')).toEqual(['hvac_precondition', 'av_on']);
    vi.advanceTimersByTime(10 * MIN); // down for 10 minutes: the 09:45 readiness check is missed
    ran = [];
    const second = open();
    expect(second.schedule.meetings().map((m) => m.id)).toEqual(['M', 'N']);
    vi.advanceTimersByTime(0);
    expect(ranNames('M')).toEqual(['ready']); // resumed at once, AV not repeated
    expect(second.timeline.plan('M')!.minutesLate).toBe(0); // booked on time: a restart is not P13 lateness
    vi.advanceTimersByTime(at('16:00') - at('09:50'));
    expect(ranNames('M')).toEqual(['ready', 'final_sound', 'session_start', 'monitor', 'no_show', 'end', 'close']);
    expect(ranNames('N')).toHaveLength(9);
  });
});
