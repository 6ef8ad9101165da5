import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decideHvacStart, HvacLedger, minutesToClose, ThermalLearner, type HvacStartDecision } from '../src/engine/hvac/optimal-start.ts';
import { ThermalFile } from '../src/engine/hvac/thermal-file.ts';
import { silentLogger } from '../src/log.ts';
import { VirtualClock } from '../src/model/virtual-clock.ts';

/**
 * Expected values here are worked out by hand from the model in optimal-start.ts: the unit's
 * pull (°C/min) as a step curve of the distance from its setpoint, less the free drift
 * working against it; a pull-down takes Σ (°C of each step) / (pull − drift) minutes;
 * the decision aims 0.3 °C inside the band edge, lead 8 min + 15 % of the pull-down (once the room has a recorded
 * approach: + the worst over-run of its last approaches, predicted vs taken, instead of 15 %); cold start: 30 min + 30 min per °C to close, at most 180 (the whole evaluation window).
 * The rooms are test data, not a mocked peer: readings as a sensor would send them, at
 * rates of a quarter or an eighth of a degree a minute so that every sample is exact.
 */
const MIN = 60_000;
const SUMMER: [number, number] = [22, 24]; // P5 default summer band: setpoint 23, the decision aims at 23.7
const WINTER: [number, number] = [18, 22]; // P5 default winter band: setpoint 20, the decision aims at 18.3
const seasonOf = (ts: number) => {
  const month = new Date(ts).getUTCMonth() + 1;
  return month >= 6 && month <= 9 ? 'summer' : month === 12 || month <= 3 ? 'winter' : 'transition';
};
const JULY_1 = Date.parse('2025-07-01T07:00:00Z');
const JULY_8 = Date.parse('2025-07-08T09:00:00Z');
const JAN_6 = Date.parse('2026-01-06T07:00:00Z');
const JAN_13 = Date.parse('2026-01-13T09:00:00Z');

/** A pre-conditioning run the learner was told about: one reading a minute, following `temp(minute)`. */
function run(learner: ThermalLearner, room: string, start: number, setpoint: number, temp: (m: number) => number, minutes: number, mode: 'heat' | 'cool'): void {
  learner.preconditioning(room, { from: start, until: start + minutes * MIN, setpoint, direction: mode });
  for (let m = 0; m <= minutes; m++) learner.observe(room, { ts: start + m * MIN, temperature: temp(m), hvacOn: true, mode });
  learner.observe(room, { ts: start + (minutes + 1) * MIN, temperature: temp(minutes), hvacOn: false });
}
/** July: 27 → 23 °C at 0.25 °C/min. Samples (3 min each) at 26.625 … 23.625 °C: 3.625 … 0.625 °C from the setpoint, all pulling 0.25. */
const julyRun = (learner: ThermalLearner, room = 'R1') => run(learner, room, JULY_1, 23, (m) => 27 - 0.25 * m, 16, 'cool');
/** January: 12 → 19 °C at 0.25 °C/min, setpoint 20. Samples at 12.375 … 18.375 °C (7.625 … 1.625 °C below the setpoint). */
const januaryRun = (learner: ThermalLearner) => run(learner, 'R1', JAN_6, 20, (m) => 12 + 0.25 * m, 28, 'heat');

describe('optimal start: the learner', () => {
  it('P5: learns each room per season and direction — a winter heating rate never comes from summer cooling data', () => {
    const learner = new ThermalLearner({ seasonOf });
    julyRun(learner);
    expect(learner.fit('R1', 'cool', 23, 23.6, JULY_8)).toEqual({ direction: 'cool', setpoint: 23, steps: [{ from: 0.625, pull: 0.25 }], samples: 5, season: 'summer' });
    // 27 → 23.6 °C: 3.4 / 0.25 = 13.6 min.
    expect(learner.minutesToReach('R1', 27, 23.6, { at: JULY_8, setpoint: 23 }).minutes).toBeCloseTo(13.6, 10);
    // Nothing for winter yet, neither heating nor (from July's data) cooling; nor heating in summer.
    expect(learner.fit('R1', 'heat', 20, 18.4, JAN_13)).toBeUndefined();
    expect(learner.fit('R1', 'cool', 23, 23.6, JAN_13)).toBeUndefined();
    expect(learner.fit('R1', 'heat', 23, 22.4, JULY_8)).toBeUndefined();
    // Not learned: 30 + 30 · 4.4 = 162 min.
    const cold = learner.minutesToReach('R1', 14, 18.4, { at: JAN_13, setpoint: 20 });
    expect(cold.learned).toBe(false);
    expect(cold.minutes).toBeCloseTo(162, 9);
    januaryRun(learner);
    expect(learner.fit('R1', 'heat', 20, 18.4, JAN_13)).toMatchObject({ steps: [{ from: 1.625, pull: 0.25 }], samples: 9, season: 'winter' });
    // 14 → 18.4 °C: 4.4 / 0.25 = 17.6 min. The summer curve is unchanged, and another room knows nothing.
    expect(learner.minutesToReach('R1', 14, 18.4, { at: JAN_13, setpoint: 20 })).toEqual({ minutes: expect.closeTo(17.6, 10), learned: true });
    expect(learner.fit('R1', 'cool', 23, 23.6, JULY_8)!.steps).toEqual([{ from: 0.625, pull: 0.25 }]);
    expect(learner.fit('R2', 'heat', 20, 18.4, JAN_13)).toBeUndefined();
  });

  it('P5: learns how the pull falls off near the setpoint, and predicts through it', () => {
    const learner = new ThermalLearner({ seasonOf });
    // 27 → 24 °C at 0.25 °C/min, then the thermostat throttles: 24 → 23 °C at 0.125.
    run(learner, 'R1', JULY_1, 23, (m) => (m <= 12 ? 27 - 0.25 * m : 24 - 0.125 * (m - 12)), 20, 'cool');
    // Samples 3.625, 2.875, 2.125, 1.375 °C from the setpoint pulling 0.25; 0.8125 pulling 0.125 (0.4375 is inside the aim: not used).
    const fit = learner.fit('R1', 'cool', 23, 23.6, JULY_8)!;
    expect(fit.steps).toEqual([
      { from: 0.8125, pull: 0.125 },
      { from: 1.375, pull: 0.25 },
    ]);
    // 27 → 23.6 °C: (4 − 1.375) / 0.25 + (1.375 − 0.6) / 0.125 = 10.5 + 6.2 = 16.7 min (at a constant 0.25: 13.6).
    expect(minutesToClose(fit, 27, 23.6)).toBeCloseTo(16.7, 10);
    // Against a load of 0.05 °C/min: 2.625 / 0.2 + 0.775 / 0.075 = 13.125 + 10.333 = 23.458 min.
    expect(minutesToClose(fit, 27, 23.6, 0.05)).toBeCloseTo(23.458, 3);
    // A load the unit cannot beat near the setpoint: it never gets there.
    expect(minutesToClose(fit, 27, 23.6, 0.125)).toBe(Infinity);
    // A unit slow to get going (6 minutes at 0.125, then 0.25) pulls less far from the setpoint than
    // nearer it: not physical for the curve, so the samples are pooled: (3·0.25 + 2·0.125) / 5 = 0.2.
    const slow = new ThermalLearner({ seasonOf });
    run(slow, 'R1', JULY_1, 23, (m) => (m <= 6 ? 27 - 0.125 * m : 26.25 - 0.25 * (m - 6)), 15, 'cool');
    expect(slow.fit('R1', 'cool', 23, 23.6, JULY_8)!.steps).toEqual([{ from: 1.375, pull: 0.2 }]);
  });

  it('P5: learns only pre-conditioning runs, not HVAC holding a meeting or a setback', () => {
    const learner = new ThermalLearner({ seasonOf });
    // HVAC on, nobody said it was pre-conditioning (a meeting full of people warming the room, a setback).
    for (let m = 0; m <= 60; m++) learner.observe('R1', { ts: JULY_1 + m * MIN, temperature: 27 - 0.0625 * m, hvacOn: true, mode: 'cool' });
    expect(learner.fit('R1', 'cool', 23, 23.6, JULY_8)).toBeUndefined();
    // After the meeting start (`until`) the run is no longer learned either: 20 minutes → 6 samples, not more.
    learner.observe('R1', { ts: JULY_1 + 70 * MIN, temperature: 27, hvacOn: false });
    learner.preconditioning('R1', { from: JULY_1 + 80 * MIN, until: JULY_1 + 100 * MIN, setpoint: 23, direction: 'cool' });
    for (let m = 0; m <= 60; m++) learner.observe('R1', { ts: JULY_1 + (80 + m) * MIN, temperature: Math.max(23, 30 - 0.25 * m), hvacOn: true, mode: 'cool' });
    expect(learner.fit('R1', 'cool', 23, 23.6, JULY_8)!.samples).toBe(6);
  });

  it('P5: stops learning a run once the room comes no nearer: the unit holding it says nothing about the approach', () => {
    const learner = new ThermalLearner({ seasonOf });
    // 27 → 23.5 °C (0.25 °C/min for 14 minutes), then held at 23.5 while people warm the room.
    run(learner, 'R1', JULY_1, 23, (m) => (m <= 14 ? 27 - 0.25 * m : m <= 24 ? 23.5 : 23.5 + 0.0625 * (m - 24)), 40, 'cool');
    // Samples: 26.625 … 24.375 °C at 0.25, then 24 → 23.5 in minutes 12–15: 23.75 °C at 0.5 / 3; minutes 15–18 show no approach: over.
    const fit = learner.fit('R1', 'cool', 23, 23.6, JULY_8)!;
    expect(fit.samples).toBe(5);
    expect(fit.steps).toEqual([
      { from: 0.75, pull: 0.5 / 3 },
      { from: 1.375, pull: 0.25 },
    ]);
  });

  it('P5: measures the free drift while HVAC is off, and uses it as the load on the next pull-down', () => {
    const learner = new ThermalLearner({ seasonOf });
    julyRun(learner);
    // The next week the room warms by 0.05 °C/min in the sun for 30 minutes.
    const now = JULY_8 - 60 * MIN;
    for (let m = 30; m >= 0; m--) learner.observe('R1', { ts: now - m * MIN, temperature: 26 - 0.05 * m, hvacOn: false });
    expect(learner.drift('R1', now)).toBeCloseTo(0.05, 10);
    // After only 10 minutes off there is no drift yet; with HVAC on, none at all.
    expect(learner.drift('R1', now - 20 * MIN)).toBeUndefined();
    // Against that load the unit nets 0.25 − 0.05 = 0.2 °C/min: 26 → 23.6 °C takes 2.4 / 0.2 = 12 min.
    expect(learner.minutesToReach('R1', 26, 23.6, { at: JULY_8, setpoint: 23, drift: 0.05 }).minutes).toBeCloseTo(12, 10);
    learner.observe('R1', { ts: now + MIN, temperature: 26, hvacOn: true, mode: 'cool' });
    expect(learner.drift('R1', now + MIN)).toBeUndefined();
  });

  it('P5: keeps what it learned per site, room and season across a restart (thermal.json version 2); a version 1 file or another site\'s is not used', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roomctl-thermal-'));
    try {
      const file = join(dir, 'thermal.json');
      const clock = VirtualClock.stepped(JULY_8);
      const learner = new ThermalLearner({ seasonOf });
      julyRun(learner);
      januaryRun(learner);
      learner.restore({ R1: { ...learner.snapshot().R1, summer: { ...learner.snapshot().R1!.summer!, approaches: [{ direction: 'cool', predicted: 13.2, actual: 15 }, { direction: 'sideways', predicted: 1, actual: 1 }] } } });
      expect(learner.leadFraction('R1', 'cool', JULY_8)).toBeCloseTo(1.8 / 13.2, 10);
      new ThermalFile(learner, 'hq', file, clock, silentLogger).save();
      const saved = JSON.parse(readFileSync(file, 'utf8'));
      expect(saved).toMatchObject({ version: 2, site: 'hq' });
      expect(Object.keys(saved.rooms.R1).sort()).toEqual(['summer', 'winter']);
      const restored = new ThermalLearner({ seasonOf });
      new ThermalFile(restored, 'hq', file, clock, silentLogger).load();
      expect(restored.fit('R1', 'cool', 23, 23.6, JULY_8)!.steps).toEqual([{ from: 0.625, pull: 0.25 }]);
      expect(restored.fit('R1', 'heat', 20, 18.4, JAN_13)!.steps).toEqual([{ from: 1.625, pull: 0.25 }]);
      // The recorded approaches too (the lead fraction of each room): a restart does not fall back to the default 15 %.
      expect(restored.snapshot()).toEqual(learner.snapshot());
      // Another site with the same room ids, pointed at the same folder, learns its own.
      const elsewhere = new ThermalLearner({ seasonOf });
      new ThermalFile(elsewhere, 'branch-office', file, clock, silentLogger).load();
      expect(elsewhere.snapshot()).toEqual({});
      // Per room only, from before: the season of its samples is unknown.
      writeFileSync(file, JSON.stringify({ version: 1, rooms: { R1: { heat: [], cool: [{ temperature: 25, rate: -0.2 }] } } }));
      const old = new ThermalLearner({ seasonOf });
      new ThermalFile(old, 'hq', file, clock, silentLogger).load();
      expect(old.snapshot()).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('optimal start: the decision', () => {
  const readyAt = JULY_8; // T-15 of a meeting at 09:15
  const learned = () => {
    const learner = new ThermalLearner({ seasonOf });
    julyRun(learner);
    return learner;
  };

  it('P5: a learned room starts so it enters the band 8 min + 15 % of the pull-down before the readiness check', () => {
    const learner = learned();
    // 27 → 23.7 °C at 0.25 °C/min = 13.2 min, + 8 + 1.98 lead = 23.18 min: the latest whole minute is 24 min before T-15.
    const first = decideHvacStart(learner, { room: 'R1', now: readyAt - 180 * MIN, readyAt, temperature: 27, band: SUMMER });
    expect(first).toMatchObject({ action: 'wait', at: readyAt - 165 * MIN, startAt: readyAt - 24 * MIN, minutesNeeded: 24, direction: 'cool', setpoint: 23, learned: true });
    // Looked at again halfway to the start once it is near: from 30 min before T-15, at 27.
    expect(decideHvacStart(learner, { room: 'R1', now: readyAt - 30 * MIN, readyAt, temperature: 27, band: SUMMER })).toMatchObject({ action: 'wait', at: readyAt - 27 * MIN, startAt: readyAt - 24 * MIN });
    const start = decideHvacStart(learner, { room: 'R1', now: readyAt - 24 * MIN, readyAt, temperature: 27, band: SUMMER });
    expect(start).toMatchObject({ action: 'start', at: readyAt - 24 * MIN, startAt: readyAt - 24 * MIN, direction: 'cool', learned: true });
    // The same room in winter has not been learned: the cold-start lead (14 → 18.3 °C: 30 + 30 · 4.3 = 159 min).
    const winter = decideHvacStart(learner, { room: 'R1', now: JAN_13 - 180 * MIN, readyAt: JAN_13, temperature: 14, band: WINTER });
    expect(winter).toMatchObject({ direction: 'heat', learned: false, minutesNeeded: 159, startAt: JAN_13 - 159 * MIN, setpoint: 20 });
  });

  /** Starts R1 (learned from julyRun) at 27 °C 24 min before T-15, as the decision does, then feeds the readings of its pull-down. */
  const startAndRun = (learner: ThermalLearner, readings: { m: number; t: number }[]) => {
    const now = readyAt - 24 * MIN;
    const start = decideHvacStart(learner, { room: 'R1', now, readyAt, meetingStart: readyAt + 15 * MIN, temperature: 27, band: SUMMER });
    expect(start).toMatchObject({ action: 'start', learned: true });
    for (const r of readings) learner.observe('R1', { ts: now + r.m * MIN, temperature: r.t, hvacOn: true, mode: 'cool' });
    learner.observe('R1', { ts: readyAt + 16 * MIN, temperature: readings.at(-1)!.t, hvacOn: false });
  };

  it('P5: a room whose pull-down ran over its prediction gets that over-run as its lead fraction next time (not the default 15 %)', () => {
    const learner = learned();
    // Predicted 27 → 23.7 °C at 0.25 °C/min: 13.2 min. It took 17 (readings at the start and at 17 min: 23.6 °C).
    startAndRun(learner, [
      { m: 0, t: 27 },
      { m: 17, t: 23.6 },
    ]);
    // Over-run (17 − 13.2) / 13.2 = 0.287878…
    expect(learner.leadFraction('R1', 'cool', readyAt)).toBeCloseTo(3.8 / 13.2, 3);
    // The run added one sample (25.3 °C, 2.3 °C from the setpoint, pulling 3.4 / 17 = 0.2): the samples beyond
    // 0.7 °C pool to 0.7 / 3 from 1.375 °C and 0.25 from 2.875 °C. 27 → 23.7 °C: 2.175 / (0.7 / 3) + 1.125 / 0.25
    // = 9.3214 + 4.5 = 13.8214 min, + 8 + 0.287878 · 13.8214 = 11.979 lead = 25.80: the start is 26 min before
    // T-15 (with the default 15 %: 8 + 2.0732 → 23.895, 24 min).
    const next = decideHvacStart(learner, { room: 'R1', now: readyAt - 180 * MIN, readyAt, temperature: 27, band: SUMMER });
    expect(next).toMatchObject({ action: 'wait', startAt: readyAt - 26 * MIN, minutesNeeded: 26, learned: true });
    expect(next.reason).toContain('the worst over-run of its last approaches');
  });

  it('P5: a room whose pull-down took no longer than predicted is led by 8 minutes alone; a run that never got there counts at least until its meeting began, at most +50 %', () => {
    const learner = learned();
    // Predicted 13.2 min; at 23.7 °C after 13: on time.
    startAndRun(learner, [
      { m: 0, t: 27 },
      { m: 13, t: 23.7 },
    ]);
    expect(learner.leadFraction('R1', 'cool', readyAt)).toBe(0);
    // Its sample (25.35 °C, 2.35 °C out, pulling 3.3 / 13 = 0.253846) pools with the two beyond it to 0.251282 from
    // 2.35 °C; 0.25 from 1.375. 27 → 23.7 °C: 1.65 / 0.25 + 1.65 / 0.251282 = 6.6 + 6.5663 = 13.1663 min, + 8
    // = 21.17: 22 min before T-15 (with the default 15 %: 23.14, 24 min).
    const next = decideHvacStart(learner, { room: 'R1', now: readyAt - 180 * MIN, readyAt, temperature: 27, band: SUMMER });
    expect(next).toMatchObject({ startAt: readyAt - 22 * MIN, minutesNeeded: 22 });
    // Winter is another season: nothing recorded there.
    expect(learner.leadFraction('R1', 'heat', JAN_13)).toBeUndefined();
    // A unit that does not cool: still at 27 °C when the meeting starts, 39 min after the start: (39 − 13.2) / 13.2 > 0.5.
    const stuck = learned();
    startAndRun(stuck, [
      { m: 0, t: 27 },
      { m: 20, t: 27 },
      { m: 40, t: 27 },
    ]);
    expect(stuck.leadFraction('R1', 'cool', readyAt)).toBe(0.5);
    expect(stuck.snapshot().R1!.summer!.approaches).toEqual([{ direction: 'cool', predicted: 13.2, actual: 39 }]);
  });

  it('P5: relates the mean temperature it is given to the sensor the learner sees (the first unit)', () => {
    // 27 → 24 °C at 0.25 °C/min, then 24 → 23 °C at 0.125 (the thermostat throttles).
    const learner = new ThermalLearner({ seasonOf });
    run(learner, 'R1', JULY_1, 23, (m) => (m <= 12 ? 27 - 0.25 * m : 24 - 0.125 * (m - 12)), 20, 'cool');
    const now = readyAt - 180 * MIN;
    // The room's mean is 27 °C; the first unit's sensor reads it 0.5 °C high. When the mean reaches
    // 23.7 it reads 24.2, short of the throttling: 4.5 → 1.2 °C from the setpoint at 0.25 = 13.2 min,
    // + 9.98 lead = 23.18 → 24 min before T-15 (with no offset: 10.5 + (1.375 − 0.7) / 0.125 = 15.9, + 10.385 → 27 min).
    learner.observe('R1', { ts: now, temperature: 27.5, hvacOn: false });
    expect(decideHvacStart(learner, { room: 'R1', now, readyAt, temperature: 27, band: SUMMER })).toMatchObject({ startAt: readyAt - 24 * MIN, learned: true });
    learner.observe('R1', { ts: now, temperature: 27, hvacOn: false });
    expect(decideHvacStart(learner, { room: 'R1', now, readyAt, temperature: 27, band: SUMMER })).toMatchObject({ startAt: readyAt - 27 * MIN, learned: true });
  });

  it('P5: a room warming in the sun while it waits is started earlier, from where it will be', () => {
    const learner = learned();
    const now = readyAt - 180 * MIN;
    for (let m = 30; m >= 0; m--) learner.observe('R1', { ts: now - m * MIN, temperature: 26 - 0.05 * m, hvacOn: false });
    // Starting s min from now: from 26 + 0.05·s, netting 0.2 °C/min to 23.7: s + 1.15·(2.3 + 0.05·s)/0.2 + 8 ≤ 180
    // → 1.2875·s ≤ 158.775 → s = 123 (then 32.15 °C, 42.25 min pull-down + 14.3375 lead = 56.5875 min).
    const d = decideHvacStart(learner, { room: 'R1', now, readyAt, temperature: 26, band: SUMMER });
    expect(d).toMatchObject({ action: 'wait', startAt: now + 123 * MIN, minutesNeeded: 57, direction: 'cool', learned: true });
  });

  it('P5: a room in band but drifting out of it is started 8 minutes before it would leave', () => {
    const learner = new ThermalLearner({ seasonOf });
    const now = JAN_13 - 30 * MIN;
    for (let m = 30; m >= 0; m--) learner.observe('R1', { ts: now - m * MIN, temperature: 19 + 0.0625 * m, hvacOn: false });
    // 19 °C, cooling 0.0625 °C/min: below 18.3 after 11.2 min. Not learned, so letting it drift out
    // costs 30 + 30 per °C: too long for the half hour left. HVAC starts at s = 3 (in band at 3 + 8 = 11).
    const d = decideHvacStart(learner, { room: 'R1', now, readyAt: JAN_13, temperature: 19, band: WINTER });
    expect(d).toMatchObject({ action: 'wait', startAt: now + 3 * MIN, direction: 'hold' });
  });

  it('P5: until a room is learned it uses a generous cold-start lead: 30 min + 30 min per °C, at most 180', () => {
    const fresh = new ThermalLearner({ seasonOf });
    const now = readyAt - 180 * MIN;
    // 27 → 23.7 °C: 30 + 30·3.3 = 129 min. 24.5 → 23.7 °C: 30 + 30·0.8 = 54 min.
    expect(decideHvacStart(fresh, { room: 'R1', now, readyAt, temperature: 27, band: SUMMER })).toMatchObject({ action: 'wait', startAt: readyAt - 129 * MIN, minutesNeeded: 129, learned: false });
    expect(decideHvacStart(fresh, { room: 'R1', now, readyAt, temperature: 24.5, band: SUMMER })).toMatchObject({ action: 'wait', startAt: readyAt - 54 * MIN, minutesNeeded: 54, learned: false });
    // Too few samples (a 6-minute run: 2) is still the cold start.
    run(fresh, 'R1', JULY_1, 23, (m) => 27 - 0.25 * m, 6, 'cool');
    expect(decideHvacStart(fresh, { room: 'R1', now, readyAt, temperature: 27, band: SUMMER })).toMatchObject({ learned: false, minutesNeeded: 129 });
  });

  it('P5: a room already in band waits until the readiness check; starting a room has it learn that run', () => {
    const learner = new ThermalLearner({ seasonOf });
    const now = JAN_13 - 60 * MIN;
    expect(decideHvacStart(learner, { room: 'R1', now, readyAt: JAN_13, temperature: 20.2, band: WINTER })).toMatchObject({ action: 'wait', direction: 'hold', startAt: JAN_13, at: now + 15 * MIN });
    // 17 → 18.3 °C cold: 30 + 30·1.3 = 69 min > 60: start at once; its readings until the meeting start are learned.
    const d = decideHvacStart(learner, { room: 'R1', now, readyAt: JAN_13, meetingStart: JAN_13 + 15 * MIN, temperature: 17, band: WINTER });
    expect(d).toMatchObject({ action: 'start', direction: 'heat', learned: false });
    for (let m = 0; m <= 75; m++) learner.observe('R1', { ts: now + m * MIN, temperature: Math.min(20, 17 + 0.125 * m), hvacOn: true, mode: 'heat' });
    // 17 → 20 °C at 0.125 °C/min: the samples 1.6 °C or more below the setpoint are those at 17.1875 … 18.3125 °C.
    expect(learner.fit('R1', 'heat', 20, 18.4, JAN_13)).toMatchObject({ steps: [{ from: 1.6875, pull: 0.125 }], samples: 4 });
  });

  it('P5: with no good reading it looks again each minute for 10 minutes, then starts with the cold-start lead', () => {
    const learner = new ThermalLearner({ seasonOf });
    const now = readyAt - 60 * MIN;
    expect(decideHvacStart(learner, { room: 'R1', now, readyAt, temperature: undefined, band: SUMMER })).toMatchObject({ action: 'wait', at: now + MIN, learned: false });
    expect(decideHvacStart(learner, { room: 'R1', now: now + 9 * MIN, readyAt, temperature: undefined, band: SUMMER })).toMatchObject({ action: 'wait', at: now + 10 * MIN });
    expect(decideHvacStart(learner, { room: 'R1', now: now + 10 * MIN, readyAt, temperature: undefined, band: SUMMER })).toMatchObject({ action: 'start', direction: 'hold', learned: false });
    // A reading ends the grace; the next missing one starts a new one. Far from the meeting it waits for the cold-start lead.
    decideHvacStart(learner, { room: 'R1', now: now + 11 * MIN, readyAt, temperature: 23, band: SUMMER });
    expect(decideHvacStart(learner, { room: 'R1', now: now + 12 * MIN, readyAt, temperature: undefined, band: SUMMER })).toMatchObject({ action: 'wait', at: now + 13 * MIN });
    const early = readyAt - 180 * MIN;
    expect(decideHvacStart(learner, { room: 'R2', now: early, readyAt, temperature: undefined, band: SUMMER })).toMatchObject({ action: 'wait', at: early + MIN });
    // The cold-start lead is the whole window (180 min): after the grace it starts at once.
    expect(decideHvacStart(learner, { room: 'R2', now: early + 10 * MIN, readyAt, temperature: undefined, band: SUMMER })).toMatchObject({ action: 'start', at: early + 10 * MIN, startAt: readyAt - 180 * MIN });
    // Opened later (a meeting booked 2 h ahead), it waits out the grace, then starts too.
    const late = readyAt - 120 * MIN;
    expect(decideHvacStart(learner, { room: 'R3', now: late, readyAt, temperature: undefined, band: SUMMER })).toMatchObject({ action: 'wait', at: late + MIN });
  });
});

/**
 * Ten winter mornings of a first-order room played the way the engine plays them: the
 * decision evaluated from the opening of the window and again when it says, the room
 * free-floating until the start, then heated; readings quantised to 0.1 °C like a sensor's.
 * With HVAC on the air approaches the unit's supply temperature (time constant TAU_HVAC); it
 * always leaks toward outdoors (TAU_ENVELOPE).
 */
describe('optimal start: mornings of a simulated room', () => {
  const SUPPLY = 30;
  const TAU_HVAC = 90;
  const TAU_ENVELOPE = 1500;
  const stepRoom = (t: number, hvacOn: boolean, outdoor: number) => t + (hvacOn ? (SUPPLY - t) / TAU_HVAC : 0) + (outdoor - t) / TAU_ENVELOPE;
  const sensor = (t: number) => Math.round(t * 10) / 10;

  function morning(learner: ThermalLearner, day: number, startTemp: number, outdoor: number) {
    const meetingStart = Date.parse('2026-01-05T10:00:00Z') + day * 86_400_000;
    const readyAt = meetingStart - 15 * MIN;
    let now = readyAt - 180 * MIN;
    let t = startTemp;
    let decision: HvacStartDecision;
    for (;;) {
      learner.observe('R1', { ts: now, temperature: sensor(t), hvacOn: false });
      decision = decideHvacStart(learner, { room: 'R1', now, readyAt, meetingStart, temperature: sensor(t), band: WINTER });
      if (decision.action === 'start') break;
      for (; now < decision.at; now += MIN) {
        t = stepRoom(t, false, outdoor);
        learner.observe('R1', { ts: now + MIN, temperature: sensor(t), hvacOn: false });
      }
    }
    const startedAt = now;
    let enteredBand: number | undefined;
    for (; now < meetingStart; now += MIN) {
      learner.observe('R1', { ts: now, temperature: sensor(t), hvacOn: true, mode: 'heat' });
      if (enteredBand === undefined && sensor(t) >= WINTER[0]) enteredBand = now;
      t = stepRoom(t, true, outdoor);
    }
    learner.observe('R1', { ts: now, temperature: sensor(t), hvacOn: false });
    return { decision, minutesBeforeReady: (readyAt - startedAt) / MIN, enteredBandBeforeReady: enteredBand === undefined ? undefined : (readyAt - enteredBand) / MIN };
  }

  it('P5: the first morning is the cold start; once learned the room enters the band a few minutes before T-15, not an hour early', () => {
    const learner = new ThermalLearner({ seasonOf });
    const days = Array.from({ length: 10 }, (_, day) => morning(learner, day, 13 + (day % 4), -2 + day));
    expect(days[0]!.decision.learned).toBe(false);
    expect(days[0]!.minutesBeforeReady).toBeGreaterThanOrEqual(60);
    for (const d of days.slice(1)) {
      expect(d.decision.learned).toBe(true);
      // In band by T-15 (the aim: 8 min + 15 % of the pull-down before it), and not an hour early.
      expect(d.enteredBandBeforeReady).toBeGreaterThanOrEqual(1);
      expect(d.enteredBandBeforeReady).toBeLessThanOrEqual(20);
      expect(d.minutesBeforeReady).toBeLessThan(days[0]!.minutesBeforeReady);
    }
  });
});

describe('optimal start: the ledger', () => {
  it('records per meeting the minutes in band before start and the HVAC minutes spent', () => {
    const ledger = new HvacLedger();
    const start = Date.parse('2026-12-14T10:00:00+08:00');
    ledger.hvacOn('M1', start - 40 * MIN);
    ledger.temperature('M1', start - 30 * MIN, false);
    ledger.temperature('M1', start - 22 * MIN, true);
    ledger.temperature('M1', start - 20 * MIN, false); // dipped out again
    ledger.temperature('M1', start - 18 * MIN, true);
    ledger.temperature('M1', start - 5 * MIN, undefined); // a stale reading decides nothing
    ledger.started('M1', start);
    ledger.temperature('M1', start + 5 * MIN, false); // after start: does not change the record
    expect(ledger.summary('M1', start + 20 * MIN)).toEqual({ minutesInBandBeforeStart: 18, hvacMinutes: 60 });
    ledger.hvacOff('M1', start + 60 * MIN);
    expect(ledger.summary('M1', start + 120 * MIN)).toEqual({ minutesInBandBeforeStart: 18, hvacMinutes: 100 });
    expect(ledger.summary('never', start)).toEqual({ minutesInBandBeforeStart: null, hvacMinutes: 0 });
  });
});
