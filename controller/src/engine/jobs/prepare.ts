import { decideStart } from '../hvac/hvac-start.ts';
import { displays, doorLocks, freshAir, freshAirSpeeds, good, hvacUnits, meetingLights, mics, roomTemperature } from '../intent/room-points.ts';
import { avLeadMinutes } from '../intent/steps.ts';
import { allPass } from '../readiness/readiness-book.ts';
import { equipmentTest } from './self-test.ts';
import { DONE, later, MIN, readinessChanged, ref, writeCtx, type JobHandler } from './job.ts';

/**
 * The preparation jobs of a meeting (docs/procedures.md), each a handler returning an outcome:
 *   vip_check         P10–P12 full equipment check
 *   hvac_precondition P5 optimal start: wait (later), or start HVAC now
 *   av_on             P2/P16 displays on, door unlocked, fresh air on, every mic tested
 *   ready             P4 the meeting scene, then every check; a room not ready is re-checked
 *   recheck           the re-check of a room that was not ready, until the start
 *   final_sound       P3 the last sound check
 * Their writes are desired values the reconciler keeps (a device that is not there yet
 * gets them when it is), so "done" here never means "sent once and hoped".
 */

/** P10–P12: proves the equipment works; left on when the meeting's AV window has begun (vip3 at T-2h). */
export const vipCheck: JobHandler = async (d, step, meeting, room) => {
  const now = d.clock.now();
  const restore = now < meeting.start - avLeadMinutes(room.policy, meeting.level) * MIN;
  const result = await equipmentTest(d.actions, room, ref(meeting), { step: step.name, restore, now: () => d.clock.now() });
  d.bus.emit('activity', { room: room.id, kind: 'self_test', name: step.name, result: result.ok ? 'ok' : 'failed', meetingId: meeting.id, ts: result.ts });
  return DONE;
};

/** P5: optimal start (or a fixed pre-start, for comparison) — wait, or start every unit now. */
export const precondition: JobHandler = async (d, _step, meeting, room) => {
  if (hvacUnits(room).length === 0) return DONE;
  const now = d.clock.now();
  // The meeting before it in this room is still on or ahead: this one's conditioning begins when that one ends.
  const before = d.schedule.previousIn(room.id, meeting.start);
  if (before && before.id !== meeting.id && before.end > now) return later(before.end);
  const decision = decideStart(d.settings.hvac, d.learner, {
    room: room.id,
    now,
    readyAt: meeting.start - room.policy.lead_minutes.ready * MIN,
    meetingStart: meeting.start,
    temperature: roomTemperature(d.state, room),
    band: d.actions.band(room, meeting.start),
  });
  if (decision.action === 'wait') return later(decision.at);
  // The reconciler keeps these wanted: a unit not answering yet (start-up, reboot) gets them when it does;
  // one that will not take them is alerted there (no check looks at HVAC until T-15).
  await d.actions.write(room, d.actions.hvacOnWrites(room, decision.setpoint, decision.direction, now), writeCtx(d, meeting));
  d.ledger.hvacOn(meeting.id, now);
  d.watch.setPreparing(room.id, meeting.id);
  const t = roomTemperature(d.state, room);
  const [lo, hi] = d.actions.band(room, meeting.start);
  d.ledger.temperature(meeting.id, now, t === undefined ? undefined : t >= lo && t <= hi);
  if (d.watch.phase(room.id) !== 'in_session') d.watch.setPhase(room.id, 'preparing', meeting.id);
  d.log.info({ room: room.id, meeting: meeting.id, reason: decision.reason }, 'HVAC pre-conditioning started (P5)');
  return DONE;
};

/** P2/P16 (P12 for vip3): AV on, door unlocked, fresh air on, every mic tested. */
export const avOn: JobHandler = async (d, _step, meeting, room) => {
  const { actions, watch } = d;
  if (watch.phase(room.id) !== 'in_session') watch.setPhase(room.id, 'preparing', meeting.id);
  const ctx = writeCtx(d, meeting);
  const on = [...displays(room), ...freshAir(room)].map((p) => ({ set: p, value: true as boolean | string }));
  // P16: a room booked half full or more is aired at high from the start: a full room at the design rate
  // only just holds CO2 under the limit, so it must not begin the meeting already behind.
  const crowded = (meeting.attendees ?? 0) >= 0.5 * room.capacity;
  const speed = freshAirSpeeds(room).map((p) => ({ set: p, value: (crowded ? 'high' : 'medium') as boolean | string }));
  const unlock = doorLocks(room).map((p) => ({ set: p, value: false as boolean | string }));
  const [, since] = await Promise.all([actions.write(room, [...on, ...speed, ...unlock], ctx), actions.startMicTest(room, ctx)]);
  await actions.waitForMicLevels(room, since);
  actions.check(room, 'av_on', ref(meeting), 'av_on');
  readinessChanged(d, room.id);
  return DONE;
};

/** P4: the meeting scene, then every check; a room not ready is re-checked until the start. */
export const ready: JobHandler = async (d, _step, meeting, room) => {
  const { actions, scenes, clock, book, watch } = d;
  const ctx = { ...writeCtx(d, meeting), source: 'schedule' };
  if (room.scenes[room.policy.meeting_scene]) await scenes.apply(room.id, room.policy.meeting_scene, ctx);
  else await actions.write(room, meetingLights(room), ctx);
  d.waits.check();
  const outcomes = actions.check(room, 'ready', ref(meeting), 'ready', true);
  const now = clock.now();
  book.noteReadyCheck(ref(meeting), outcomes, now);
  const isReady = allPass(outcomes);
  if (watch.phase(room.id) !== 'in_session') watch.setPhase(room.id, isReady ? 'ready' : 'not_ready', meeting.id);
  readinessChanged(d, room.id);
  const next = now + d.settings.recheckEveryMs;
  return !isReady && next < meeting.start ? { kind: 'done', recheckAt: next } : DONE;
};

/** A re-check of a room that was not ready: records when it became ready. */
export const recheck: JobHandler = (d, _step, meeting, room) => {
  const now = d.clock.now();
  if (now >= meeting.start) return DONE;
  const outcomes = d.actions.check(room, 'ready', ref(meeting), 'recheck', true);
  const isReady = allPass(outcomes);
  if (d.watch.phase(room.id) !== 'in_session') d.watch.setPhase(room.id, isReady ? 'ready' : 'not_ready', meeting.id);
  d.book.flush();
  readinessChanged(d, room.id);
  const next = now + d.settings.recheckEveryMs;
  return !isReady && next < meeting.start ? { kind: 'done', recheckAt: next } : DONE;
};

/** P3: the last sound check; a mic whose level has gone quiet is tested again first. */
export const finalSound: JobHandler = async (d, _step, meeting, room) => {
  const { actions, state, clock } = d;
  const now = clock.now();
  // A channel whose test is no longer running (someone stopped it, the DSP restarted) is tested again;
  // a channel under test that gives no level stays as it is: that silence is the finding.
  const quiet = mics(room).some((m) => m.test !== undefined && good(state, room, m.test) !== true);
  if (quiet) {
    const since = await actions.startMicTest(room, writeCtx(d, meeting));
    await actions.waitForMicLevels(room, Math.min(since, now));
  }
  actions.check(room, 'final_sound', ref(meeting), 'final_sound');
  readinessChanged(d, room.id);
  return DONE;
};
