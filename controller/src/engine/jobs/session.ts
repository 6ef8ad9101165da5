import { displays, freshAir, freshAirSpeeds, good, hvacUnits, lightZones, roomCo2, roomCount, roomTemperature } from '../intent/room-points.ts';
import { avLeadMinutes } from '../intent/steps.ts';
import { DONE, later, MIN, readinessChanged, ref, writeCtx, type JobHandler } from './job.ts';

/**
 * The session and after (docs/procedures.md), each a handler returning an outcome:
 *   session_start  the verdict; the mic test tone stops, the mics stay live
 *   monitor        P6 every few minutes until the end (later); temperature drift → corrective setpoint
 *   no_show        nobody came → HVAC, lights and AV released, recorded
 *   end            monitoring stops, the HVAC minutes final — alerts are NOT cleared by
 *                  the end: each clears when its condition is true again
 *   close          P7 once the room is vacant (later until then; closing.ts)
 */

/**
 * P16, demand-controlled: fresh air at medium for the meeting, high while CO2 nears the
 * limit or the room is half full or more (a full room at the design rate of 30 m³/h a
 * person settles near 1000 ppm only at full flow), back to medium once CO2 is well below.
 */
const FRESH_AIR_BOOST_AT = 0.7;
const FRESH_AIR_EASE_AT = 0.5;
const CROWDED_AT = 0.5;

/** The verdict at the start; then the test tone stops and the mics stay live for the meeting. */
export const sessionStart: JobHandler = async (d, _step, meeting, room) => {
  const { actions, clock, ledger, watch, book } = d;
  const outcomes = actions.check(room, 'session_start', ref(meeting), 'session_start', true);
  ledger.started(meeting.id, meeting.start);
  const now = clock.now();
  const { minutesInBandBeforeStart, hvacMinutes } = ledger.summary(meeting.id, now);
  const avAt = meeting.start - avLeadMinutes(room.policy, meeting.level) * MIN;
  const minutesLate = Math.round((Math.max(0, meeting.plannedAt - avAt) / MIN) * 10) / 10;
  const verdict = book.verdictAtStart(ref(meeting), outcomes, { minutesLate, minutesInBandBeforeStart, hvacMinutes }, now);
  watch.startSession(room.id, meeting.id);
  if (watch.preparing(room.id) === meeting.id) watch.setPreparing(room.id, undefined);
  d.bus.emit('verdict', verdict);
  await actions.stopMicTest(room, writeCtx(d, meeting), false);
  return DONE;
};

/** P6: watch temperature, CO2 and devices; a temperature out of band gets a corrective setpoint at once. */
export const monitor: JobHandler = async (d, _step, meeting, room) => {
  const { actions, clock, watch, state } = d;
  if (watch.phase(room.id) === 'released' && watch.phaseMeeting(room.id) === meeting.id) return DONE;
  actions.check(room, 'monitor', ref(meeting), 'monitor');
  const t = roomTemperature(state, room);
  const [lo, hi] = actions.band(room, meeting.start);
  const units = hvacUnits(room);
  if (t !== undefined && (t > hi || t < lo) && units.length > 0) {
    const current = good(state, room, `${units[0]!.name}.setpoint`);
    const sp = typeof current === 'number' ? current : (lo + hi) / 2;
    const target = t > hi ? Math.max(lo, sp - 1) : Math.min(hi, sp + 1);
    const writes = units.flatMap((u) => [{ set: `${u.name}.power`, value: true }, ...(target !== sp ? [{ set: `${u.name}.setpoint`, value: target }] : [])]);
    await actions.write(room, writes, writeCtx(d, meeting));
  }
  const co2 = roomCo2(state, room);
  const max = room.policy.co2_max_ppm;
  const count = roomCount(state, room);
  const crowded = count !== undefined && count >= CROWDED_AT * room.capacity;
  const boost = crowded || (co2 !== undefined && co2 >= FRESH_AIR_BOOST_AT * max);
  const ease = !crowded && co2 !== undefined && co2 <= FRESH_AIR_EASE_AT * max;
  if (freshAirSpeeds(room).length > 0 && (boost || ease)) {
    const speed = boost ? 'high' : 'medium';
    const writes = freshAirSpeeds(room).filter((p) => good(state, room, p) !== speed).map((p) => ({ set: p, value: speed }));
    if (writes.length) await actions.write(room, [...freshAir(room).map((p) => ({ set: p, value: true })), ...writes], writeCtx(d, meeting));
  }
  const next = clock.now() + d.settings.monitorEveryMs;
  return next < meeting.end ? later(next) : DONE;
};

/** Nobody came within the policy's minutes: HVAC, lights and AV released (unless the next meeting's preparation has begun). */
export const noShow: JobHandler = async (d, _step, meeting, room) => {
  const { watch, clock, schedule, actions, ledger, book } = d;
  // People of a meeting just before may still be leaving during the first minutes.
  const seen = watch.presentSince(room.id, meeting.start + 5 * MIN);
  if (seen !== false) return DONE;
  const now = clock.now();
  const next = schedule.nextIn(room.id, meeting.end);
  const nextPreparing = next !== undefined && now >= next.start - avLeadMinutes(room.policy, next.level) * MIN;
  if (!nextPreparing) {
    const soon = next !== undefined && next.start - now <= room.policy.hvac_off_horizon_minutes * MIN;
    const writes = [
      ...lightZones(room).map((z) => ({ set: z.on, value: false })),
      ...displays(room).map((p) => ({ set: p, value: false })),
      ...freshAir(room).map((p) => ({ set: p, value: false })),
      ...(soon ? actions.hvacSetbackWrites(room, now) : actions.hvacOffWrites(room)),
    ];
    await Promise.all([actions.write(room, writes, { meetingId: meeting.id }), actions.stopMicTest(room, { meetingId: meeting.id }, true)]);
  }
  ledger.hvacOff(meeting.id, clock.now());
  watch.endSession(room.id, meeting.id);
  watch.setPhase(room.id, 'released', meeting.id);
  const v = book.updateVerdict(meeting.id, { noShow: true, hvacMinutes: ledger.summary(meeting.id, clock.now()).hvacMinutes }, clock.now());
  if (v) d.bus.emit('verdict', v);
  d.bus.emit('activity', { room: room.id, kind: 'no_show', name: 'no_show', result: 'ok', detail: nextPreparing ? 'recorded; the next meeting is being prepared, nothing released' : 'HVAC, lights and AV released', meetingId: meeting.id, ts: clock.now() });
  d.log.info({ room: room.id, meeting: meeting.id }, 'no-show: room released');
  return DONE;
};

/** The meeting is over: its HVAC minutes are final; its alerts stay until their conditions are true again. */
export const end: JobHandler = (d, step, meeting, room) => {
  const { ledger, watch, book, clock } = d;
  const now = clock.now();
  ledger.hvacOff(meeting.id, now);
  const released = watch.phase(room.id) === 'released' && watch.phaseMeeting(room.id) === meeting.id;
  watch.endSession(room.id, meeting.id);
  if (!released && step.closes) watch.setPhase(room.id, 'closing', meeting.id);
  const v = book.updateVerdict(meeting.id, { hvacMinutes: ledger.summary(meeting.id, now).hvacMinutes }, now);
  if (v) d.bus.emit('verdict', v);
  readinessChanged(d, room.id);
  return DONE;
};

/** P7: once vacant for the policy's minutes (not if the next meeting's preparation has begun). */
export const close: JobHandler = async (d, step, meeting, room) => {
  const { watch, clock, schedule, closer } = d;
  const now = clock.now();
  const policy = room.policy;
  const next = schedule.nextIn(room.id, meeting.end);
  if (next && now >= next.start - avLeadMinutes(policy, next.level) * MIN) {
    d.bus.emit('activity', { room: room.id, kind: 'close', name: 'close', result: 'ok', detail: `not closed: ${next.id} is being prepared`, meetingId: meeting.id, ts: now });
    return DONE;
  }
  const vacancyMs = policy.vacancy_minutes * MIN;
  const vacant = watch.vacantFor(room.id, vacancyMs);
  // Sensors silent: fall back on the clock, an hour after the end (the lock is still refused while occupancy is unknown).
  const mayClose = vacant === true || (vacant === undefined && (watch.hasOccupancySensor(room.id) ? now >= meeting.end + 60 * MIN : now >= meeting.end + vacancyMs));
  if (!mayClose) return later(now + d.settings.closeRetryMs);
  // The next meeting's pre-conditioning has begun already (P5: it may open as soon as this one
  // ends): its HVAC is left running, not set back or switched off under it.
  const keepHvac = next !== undefined && watch.preparing(room.id) === next.id;
  await closer.close(room, ref(meeting), keepHvac ? 'keep' : (step.hvacAfter ?? 'off'));
  if (keepHvac) watch.setPhase(room.id, 'preparing', next.id);
  readinessChanged(d, room.id);
  return DONE;
};
