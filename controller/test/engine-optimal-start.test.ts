import { describe, expect, it } from 'vitest';
import { decideHvacStart, HvacLedger, MAX_PRECONDITION_MINUTES, ThermalLearner, type HvacStartDecision } from '../src/engine/hvac/optimal-start.ts';

/**
 * Test data, not a mocked peer: a first-order room. With HVAC heating, the air
 * approaches the unit's supply temperature with time constant TAU_HVAC; it always
 * leaks toward outdoors with TAU_ENVELOPE. Readings are quantised to 0.1 °C like a
 * real sensor's.
 */
const SUPPLY = 30;
const TAU_HVAC = 90;
const TAU_ENVELOPE = 1500; // a well-insulated office: cools slowly overnight
const MIN = 60_000;
const WINTER_BAND: [number, number] = [18, 22]; // P5 default winter band

function stepRoom(t: number, hvacOn: boolean, outdoor: number): number {
  return t + (hvacOn ? (SUPPLY - t) / TAU_HVAC : 0) + (outdoor - t) / TAU_ENVELOPE;
}
const sensor = (t: number) => Math.round(t * 10) / 10;

/** Ten winter mornings of history: HVAC heating for 90 minutes from a cold room. */
function learnedRoom(): ThermalLearner {
  const learner = new ThermalLearner();
  let ts = Date.parse('2026-12-01T06:00:00+08:00');
  for (let day = 0; day < 10; day++) {
    let t = 13 + (day % 4);
    const outdoor = -2 + day;
    for (let minute = 0; minute < 90; minute++) {
      learner.observe('R1', { ts: ts + minute * MIN, temperature: sensor(t), hvacOn: true, mode: 'heat', outdoor });
      t = stepRoom(t, true, outdoor);
    }
    learner.observe('R1', { ts: ts + 90 * MIN, temperature: sensor(t), hvacOn: false, outdoor });
    ts += 24 * 60 * MIN;
  }
  return learner;
}

/** Plays the morning as the engine would: evaluate from the opening of the window, re-check when told, then heat. */
function playMorning(learner: ThermalLearner, startTemp: number, outdoor: number, meetingStart: number) {
  const readyAt = meetingStart - 15 * MIN; // P4: in band by the readiness check
  let now = readyAt - MAX_PRECONDITION_MINUTES * MIN;
  let t = startTemp;
  let decision: HvacStartDecision;
  const evaluations: number[] = [];
  for (;;) {
    evaluations.push(now);
    decision = decideHvacStart(learner, { room: 'R1', now, readyAt, temperature: sensor(t), band: WINTER_BAND, outdoor });
    if (decision.action === 'start') break;
    for (; now < decision.at; now += MIN) t = stepRoom(t, false, outdoor);
  }
  const hvacStartedAt = now;
  for (; now < readyAt; now += MIN) t = stepRoom(t, true, outdoor);
  return { decision, hvacStartedAt, tempAtReady: t, evaluations };
}

function fixedPreStart(startTemp: number, outdoor: number, meetingStart: number) {
  let t = startTemp;
  const readyAt = meetingStart - 15 * MIN;
  for (let now = readyAt - 120 * MIN; now < readyAt; now += MIN) t = stepRoom(t, now >= meetingStart - 60 * MIN, outdoor);
  return t;
}

describe('optimal start', () => {
  const meetingStart = Date.parse('2026-12-14T10:00:00+08:00');

  it('P5: learns the room from its own history and starts HVAC later than a fixed 60-minute pre-start, still in band by T-15', () => {
    const learner = learnedRoom();
    const fit = learner.fit('R1', 'heat', true)!;
    expect(fit.samples).toBeGreaterThan(100);
    // The fit recovers the room: the rate falls as the room warms (b < 0), and a colder outdoors slows it.
    expect(fit.b).toBeLessThan(0);
    expect(fit.c).toBeGreaterThan(0);
    const run = playMorning(learner, 16.5, 1, meetingStart);
    expect(run.decision).toMatchObject({ action: 'start', direction: 'heat', learned: true, setpoint: 20 });
    expect(run.hvacStartedAt).toBeGreaterThan(meetingStart - 60 * MIN);
    expect(run.tempAtReady).toBeGreaterThanOrEqual(WINTER_BAND[0]);
    expect(run.tempAtReady).toBeLessThanOrEqual(WINTER_BAND[1]);
    // The fixed pre-start reaches the band too; it just runs the HVAC longer.
    expect(fixedPreStart(16.5, 1, meetingStart)).toBeGreaterThanOrEqual(WINTER_BAND[0]);
    const minutesSaved = (run.hvacStartedAt - (meetingStart - 60 * MIN)) / MIN;
    expect(minutesSaved).toBeGreaterThan(10);
  });

  it('P5: re-evaluates while waiting instead of deciding once, hours ahead', () => {
    const run = playMorning(learnedRoom(), 16.5, 1, meetingStart);
    expect(run.evaluations.length).toBeGreaterThan(5);
    const gaps = run.evaluations.slice(1).map((t, i) => (t - run.evaluations[i]!) / MIN);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(15);
  });

  it('P5: until a room has history it uses a conservative default, which starts earlier than the learned start and still reaches the band', () => {
    const fresh = new ThermalLearner();
    expect(fresh.fit('R1', 'heat', false)).toBeUndefined();
    const cautious = playMorning(fresh, 16.5, 1, meetingStart);
    const learned = playMorning(learnedRoom(), 16.5, 1, meetingStart);
    expect(cautious.decision.learned).toBe(false);
    expect(cautious.hvacStartedAt).toBeLessThan(learned.hvacStartedAt);
    expect(cautious.tempAtReady).toBeGreaterThanOrEqual(WINTER_BAND[0]);
  });

  it('P5: a room already in band waits until the readiness check, and a room with no good temperature reading starts at once', () => {
    const learner = learnedRoom();
    const readyAt = meetingStart - 15 * MIN;
    const now = readyAt - 60 * MIN;
    expect(decideHvacStart(learner, { room: 'R1', now, readyAt, temperature: 20.2, band: WINTER_BAND })).toMatchObject({ action: 'wait', direction: 'hold', startAt: readyAt, at: now + 15 * MIN });
    expect(decideHvacStart(learner, { room: 'R1', now, readyAt, temperature: undefined, band: WINTER_BAND })).toMatchObject({ action: 'start', at: now });
  });

  it('P5: cools a warm room with the cooling rate it learned, separately from heating', () => {
    const learner = new ThermalLearner();
    let ts = Date.parse('2026-07-01T07:00:00+08:00');
    for (let day = 0; day < 5; day++) {
      let t = 28 + day * 0.5;
      for (let minute = 0; minute < 60; minute++) {
        learner.observe('R1', { ts: ts + minute * MIN, temperature: sensor(t), hvacOn: true, mode: 'auto' });
        t += (14 - t) / 60; // chilled supply air
      }
      learner.observe('R1', { ts: ts + 60 * MIN, temperature: sensor(t), hvacOn: false });
      ts += 24 * 60 * MIN;
    }
    expect(learner.fit('R1', 'cool', false)).toBeDefined();
    expect(learner.fit('R1', 'heat', false)).toBeUndefined();
    const readyAt = meetingStart - 15 * MIN;
    const d = decideHvacStart(learner, { room: 'R1', now: readyAt - 180 * MIN, readyAt, temperature: 28, band: [22, 24] });
    expect(d).toMatchObject({ direction: 'cool', learned: true, setpoint: 23 });
    expect(d.minutesNeeded).toBeLessThan(40);
  });

  it('records per meeting the minutes in band before start and the HVAC minutes spent', () => {
    const ledger = new HvacLedger();
    const start = meetingStart;
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
