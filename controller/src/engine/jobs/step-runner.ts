import type { Room } from '../../config/load.ts';
import type { Logger } from '../../log.ts';
import type { EventBus } from '../../model/bus.ts';
import type { Clock } from '../../model/clock.ts';
import type { MeetingVerdict } from '../../model/events.ts';
import type { RoomActions } from '../reconcile/actions.ts';
import type { AlertBook } from '../alerts/alert-book.ts';
import type { StateReader } from '../readiness/checks.ts';
import type { Closer } from './closing.ts';
import type { Meeting } from '../../model/meetings.ts';
import type { HvacLedger, ThermalLearner } from '../hvac/optimal-start.ts';
import { decideStart, type HvacStrategy } from '../hvac/hvac-start.ts';
import { allPass, type MeetingRef, type ReadinessBook } from '../readiness/readiness-book.ts';
import { displays, doorLocks, freshAir, freshAirSpeeds, good, hvacUnits, lightZones, meetingLights, mics, roomCo2, roomTemperature } from '../intent/room-points.ts';
import type { RoomWatch } from '../readiness/room-watch.ts';
import type { SceneRunner } from '../reconcile/scenes.ts';
import type { Schedule } from '../timeline/schedule.ts';
import { equipmentTest } from './self-test.ts';
import { avLeadMinutes, type Step } from '../intent/steps.ts';
import type { Timeline } from '../timeline/timeline.ts';
import { Stopped, type Waits } from '../timeline/waits.ts';

/**
 * Carries out each timeline step on the room's devices (PROCEDURES.md):
 *   vip_check        P10–P12 full equipment check (self-test.ts)
 *   hvac_precondition P5 optimal start: wait, or start HVAC now
 *   av_on            P2/P16 displays on, door unlocked, fresh air on, every mic tested
 *   ready            P4 the meeting scene, then every check; re-checked until the start if not ready
 *   final_sound      P3 the last sound check
 *   session_start    the verdict; the mic test tone stops, the mics stay live
 *   monitor          P6 every few minutes until the end; temperature drift → corrective setpoint
 *   no_show          nobody came → HVAC, lights and AV released, recorded
 *   end              the meeting's alerts are cleared, its HVAC minutes final
 *   close            P7 once the room is vacant (closing.ts); not between back-to-back meetings
 * A step cut short by shutdown is put back in the queue, so it is not recorded as done
 * and runs again after a restart.
 */
export type { HvacStrategy };

export interface StepSettings {
  hvac: HvacStrategy;
  monitorEveryMs: number;
  recheckEveryMs: number;
  closeRetryMs: number;
}

export interface StepRunnerOptions {
  rooms: Map<string, Room>;
  actions: RoomActions;
  closer: Closer;
  scenes: SceneRunner;
  schedule: Schedule;
  alerts: AlertBook;
  book: ReadinessBook;
  ledger: HvacLedger;
  learner: ThermalLearner;
  watch: RoomWatch;
  state: StateReader;
  waits: Waits;
  clock: Clock;
  bus: EventBus;
  log: Logger;
  settings: StepSettings;
  timeline: () => Timeline;
  /** Re-check a not-ready meeting at `at` (the engine's routine queue). */
  recheck: (meetingId: string, at: number) => void;
  cancelRecheck: (meetingId: string) => void;
  /** A verdict was made or updated: bus, retained readiness topic. */
  verdict: (v: MeetingVerdict) => void;
  /** The room's readiness changed: retained readiness topic. */
  readinessChanged: (room: string) => void;
}

const MIN = 60_000;
export const ref = (m: Pick<Meeting, 'id' | 'room' | 'level' | 'start' | 'end'>): MeetingRef => ({ id: m.id, room: m.room, level: m.level, start: m.start, end: m.end });

/** P16: fresh air at medium for the meeting, high while CO2 is near the limit, back to medium once it is well below. */
const FRESH_AIR_BOOST_AT = 0.85;
const FRESH_AIR_EASE_AT = 0.6;

export class StepRunner {
  /** Steps of one room run one after another: a compressed P13 timeline's AV step finishes before its readiness check. */
  private chains = new Map<string, Promise<void>>();
  /** Steps put back in the queue by their own run (waiting, re-arming): not finished, no activity yet. */
  private requeued = new Set<string>();

  constructor(private o: StepRunnerOptions) {}

  run(step: Step, meeting: Meeting): Promise<void> {
    const previous = this.chains.get(step.room) ?? Promise.resolve();
    const run = previous.then(() => this.runNow(step, meeting));
    const tail = run.catch(() => {});
    this.chains.set(step.room, tail);
    void tail.then(() => {
      if (this.chains.get(step.room) === tail) this.chains.delete(step.room);
    });
    return run;
  }

  private async runNow(step: Step, meeting: Meeting): Promise<void> {
    const room = this.o.rooms.get(step.room);
    if (!room) return;
    try {
      this.o.waits.check();
      await this.dispatch(step, meeting, room);
      if (!this.requeued.delete(step.key)) this.o.bus.emit('activity', { room: room.id, kind: 'step', name: step.name, result: 'ok', meetingId: meeting.id, ts: this.o.clock.now() });
    } catch (err) {
      this.requeued.delete(step.key);
      if (!(err instanceof Stopped)) throw err;
      // Cut short by shutdown: back in the queue, so it is not recorded as done.
      this.o.timeline().reschedule(step, this.o.clock.now());
    } finally {
      this.o.book.flush();
    }
  }

  /** Puts the step back in the queue for `at` (it is not done yet). */
  private later(step: Step, at: number): void {
    this.requeued.add(step.key);
    this.o.timeline().reschedule(step, at);
  }

  private dispatch(step: Step, meeting: Meeting, room: Room): Promise<void> | void {
    switch (step.kind) {
      case 'vip_check':
        return this.vipCheck(step, meeting, room);
      case 'hvac_precondition':
        return this.precondition(step, meeting, room);
      case 'av_on':
        return this.avOn(meeting, room);
      case 'ready':
        return this.ready(meeting, room);
      case 'final_sound':
        return this.finalSound(meeting, room);
      case 'session_start':
        return this.sessionStart(meeting, room);
      case 'monitor':
        return this.monitor(step, meeting, room);
      case 'no_show':
        return this.noShow(meeting, room);
      case 'end':
        return this.end(meeting, room);
      case 'close':
        return this.close(step, meeting, room);
    }
  }

  private ctx(meeting: Meeting) {
    return { meetingId: meeting.id, minutesToStart: (meeting.start - this.o.clock.now()) / MIN };
  }

  /** P10–P12: proves the equipment works; left on when the meeting's AV window has begun (vip3 at T-2h). */
  private async vipCheck(step: Step, meeting: Meeting, room: Room): Promise<void> {
    const now = this.o.clock.now();
    const restore = now < meeting.start - avLeadMinutes(room.policy, meeting.level) * MIN;
    const result = await equipmentTest(this.o.actions, room, ref(meeting), { step: step.name, restore, now: () => this.o.clock.now() });
    this.o.bus.emit('activity', { room: room.id, kind: 'self_test', name: step.name, result: result.ok ? 'ok' : 'failed', meetingId: meeting.id, ts: result.ts });
  }

  /** P5: optimal start (or a fixed pre-start, for comparison) — wait, or start every unit now. */
  private async precondition(step: Step, meeting: Meeting, room: Room): Promise<void> {
    const { clock, schedule, watch, ledger } = this.o;
    if (hvacUnits(room).length === 0) return;
    const now = clock.now();
    // The meeting before it in this room is still on or ahead: this one's conditioning begins when that one ends.
    const before = schedule.previousIn(room.id, meeting.start);
    if (before && before.id !== meeting.id && before.end > now) return this.later(step, before.end);
    const decision = decideStart(this.o.settings.hvac, this.o.learner, {
      room: room.id,
      now,
      readyAt: meeting.start - room.policy.lead_minutes.ready * MIN,
      meetingStart: meeting.start,
      temperature: roomTemperature(this.o.state, room),
      band: this.o.actions.band(room, meeting.start),
    });
    if (decision.action === 'wait') return this.later(step, decision.at);
    // The reconciler keeps these wanted: a unit not answering yet (start-up, reboot) gets them when it does;
    // one that will not take them is alerted there (no check looks at HVAC until T-15).
    await this.o.actions.write(room, this.o.actions.hvacOnWrites(room, decision.setpoint, decision.direction, now), this.ctx(meeting));
    ledger.hvacOn(meeting.id, now);
    watch.setPreparing(room.id, meeting.id);
    const t = roomTemperature(this.o.state, room);
    const [lo, hi] = this.o.actions.band(room, meeting.start);
    ledger.temperature(meeting.id, now, t === undefined ? undefined : t >= lo && t <= hi);
    if (watch.phase(room.id) !== 'in_session') watch.setPhase(room.id, 'preparing', meeting.id);
    this.o.log.info({ room: room.id, meeting: meeting.id, reason: decision.reason }, 'HVAC pre-conditioning started (P5)');
  }

  /** P2/P16 (P12 for vip3): AV on, door unlocked, fresh air on, every mic tested. */
  private async avOn(meeting: Meeting, room: Room): Promise<void> {
    const { actions, watch } = this.o;
    if (watch.phase(room.id) !== 'in_session') watch.setPhase(room.id, 'preparing', meeting.id);
    const ctx = this.ctx(meeting);
    const on = [...displays(room), ...freshAir(room)].map((p) => ({ set: p, value: true as boolean | string }));
    const speed = freshAirSpeeds(room).map((p) => ({ set: p, value: 'medium' as boolean | string }));
    const unlock = doorLocks(room).map((p) => ({ set: p, value: false as boolean | string }));
    const [, since] = await Promise.all([actions.write(room, [...on, ...speed, ...unlock], ctx), actions.startMicTest(room, ctx)]);
    await actions.waitForMicLevels(room, since);
    actions.check(room, 'av_on', ref(meeting), 'av_on');
    this.o.readinessChanged(room.id);
  }

  /** P4: the meeting scene, then every check; a room not ready is re-checked until the start. */
  private async ready(meeting: Meeting, room: Room): Promise<void> {
    const { actions, scenes, clock, book, watch } = this.o;
    const ctx = { ...this.ctx(meeting), source: 'schedule' };
    if (room.scenes[room.policy.meeting_scene]) await scenes.apply(room.id, room.policy.meeting_scene, ctx);
    else await actions.write(room, meetingLights(room), ctx);
    this.o.waits.check();
    const outcomes = actions.check(room, 'ready', ref(meeting), 'ready', true);
    const now = clock.now();
    book.noteReadyCheck(ref(meeting), outcomes, now);
    const ready = allPass(outcomes);
    if (watch.phase(room.id) !== 'in_session') watch.setPhase(room.id, ready ? 'ready' : 'not_ready', meeting.id);
    if (!ready && now + this.o.settings.recheckEveryMs < meeting.start) this.o.recheck(meeting.id, now + this.o.settings.recheckEveryMs);
    this.o.readinessChanged(room.id);
  }

  /** A re-check of a room that was not ready (from the engine's queue): records when it became ready. */
  recheck(meeting: Meeting): void {
    const room = this.o.rooms.get(meeting.room);
    const now = this.o.clock.now();
    if (!room || now >= meeting.start) return;
    const outcomes = this.o.actions.check(room, 'ready', ref(meeting), 'recheck', true);
    const ready = allPass(outcomes);
    if (this.o.watch.phase(room.id) !== 'in_session') this.o.watch.setPhase(room.id, ready ? 'ready' : 'not_ready', meeting.id);
    if (!ready && now + this.o.settings.recheckEveryMs < meeting.start) this.o.recheck(meeting.id, now + this.o.settings.recheckEveryMs);
    this.o.book.flush();
    this.o.readinessChanged(room.id);
  }

  /** P3: the last sound check; a mic whose level has gone quiet is tested again first. */
  private async finalSound(meeting: Meeting, room: Room): Promise<void> {
    const { actions, state, clock } = this.o;
    const now = clock.now();
    // A channel whose test is no longer running (someone stopped it, the DSP restarted) is tested again;
    // a channel under test that gives no level stays as it is: that silence is the finding.
    const quiet = mics(room).some((m) => m.test !== undefined && good(state, room, m.test) !== true);
    if (quiet) {
      const since = await actions.startMicTest(room, this.ctx(meeting));
      await actions.waitForMicLevels(room, Math.min(since, now));
    }
    actions.check(room, 'final_sound', ref(meeting), 'final_sound');
    this.o.readinessChanged(room.id);
  }

  /** The verdict at the start; then the test tone stops and the mics stay live for the meeting. */
  private async sessionStart(meeting: Meeting, room: Room): Promise<void> {
    const { actions, clock, ledger, watch, book } = this.o;
    this.o.cancelRecheck(meeting.id);
    const outcomes = actions.check(room, 'session_start', ref(meeting), 'session_start', true);
    ledger.started(meeting.id, meeting.start);
    const now = clock.now();
    const { minutesInBandBeforeStart, hvacMinutes } = ledger.summary(meeting.id, now);
    const avAt = meeting.start - avLeadMinutes(room.policy, meeting.level) * MIN;
    const minutesLate = Math.round((Math.max(0, meeting.plannedAt - avAt) / MIN) * 10) / 10;
    const verdict = book.verdictAtStart(ref(meeting), outcomes, { minutesLate, minutesInBandBeforeStart, hvacMinutes }, now);
    watch.startSession(room.id, meeting.id);
    if (watch.preparing(room.id) === meeting.id) watch.setPreparing(room.id, undefined);
    this.o.verdict(verdict);
    await actions.stopMicTest(room, this.ctx(meeting), false);
  }

  /** P6: watch temperature, CO2 and devices; a temperature out of band gets a corrective setpoint at once. */
  private async monitor(step: Step, meeting: Meeting, room: Room): Promise<void> {
    const { actions, clock, watch, state } = this.o;
    if (watch.phase(room.id) === 'released' && watch.phaseMeeting(room.id) === meeting.id) return;
    actions.check(room, 'monitor', ref(meeting), 'monitor');
    const t = roomTemperature(state, room);
    const [lo, hi] = actions.band(room, meeting.start);
    const units = hvacUnits(room);
    if (t !== undefined && (t > hi || t < lo) && units.length > 0) {
      const current = good(state, room, `${units[0]!.name}.setpoint`);
      const sp = typeof current === 'number' ? current : (lo + hi) / 2;
      const target = t > hi ? Math.max(lo, sp - 1) : Math.min(hi, sp + 1);
      const writes = units.flatMap((d) => [{ set: `${d.name}.power`, value: true }, ...(target !== sp ? [{ set: `${d.name}.setpoint`, value: target }] : [])]);
      await actions.write(room, writes, this.ctx(meeting));
    }
    const co2 = roomCo2(state, room);
    const max = room.policy.co2_max_ppm;
    if (co2 !== undefined && freshAirSpeeds(room).length > 0 && (co2 >= FRESH_AIR_BOOST_AT * max || co2 <= FRESH_AIR_EASE_AT * max)) {
      const speed = co2 >= FRESH_AIR_BOOST_AT * max ? 'high' : 'medium';
      const writes = freshAirSpeeds(room).filter((p) => good(state, room, p) !== speed).map((p) => ({ set: p, value: speed }));
      if (writes.length) await actions.write(room, [...freshAir(room).map((p) => ({ set: p, value: true })), ...writes], this.ctx(meeting));
    }
    const next = clock.now() + this.o.settings.monitorEveryMs;
    if (next < meeting.end) this.later(step, next);
  }

  /** Nobody came within the policy's minutes: HVAC, lights and AV released (unless the next meeting's preparation has begun). */
  private async noShow(meeting: Meeting, room: Room): Promise<void> {
    const { watch, clock, schedule, actions, ledger, book } = this.o;
    // People of a meeting just before may still be leaving during the first minutes.
    const seen = watch.presentSince(room.id, meeting.start + 5 * MIN);
    if (seen !== false) return;
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
    if (v) this.o.verdict(v);
    this.o.bus.emit('activity', { room: room.id, kind: 'no_show', name: 'no_show', result: 'ok', detail: nextPreparing ? 'recorded; the next meeting is being prepared, nothing released' : 'HVAC, lights and AV released', meetingId: meeting.id, ts: clock.now() });
    this.o.log.info({ room: room.id, meeting: meeting.id }, 'no-show: room released');
  }

  private end(meeting: Meeting, room: Room): void {
    const { alerts, ledger, watch, book, clock } = this.o;
    const now = clock.now();
    this.o.cancelRecheck(meeting.id);
    // The meeting's alerts are not cleared by its end: each clears when its condition is true again (readiness watch).
    ledger.hvacOff(meeting.id, now);
    const released = watch.phase(room.id) === 'released' && watch.phaseMeeting(room.id) === meeting.id;
    watch.endSession(room.id, meeting.id);
    const closes = this.o.timeline().pending(meeting.id).some((s) => s.kind === 'close');
    if (!released && closes) watch.setPhase(room.id, 'closing', meeting.id);
    const v = book.updateVerdict(meeting.id, { hvacMinutes: ledger.summary(meeting.id, now).hvacMinutes }, now);
    if (v) this.o.verdict(v);
  }

  /** P7: once vacant for the policy's minutes (not if the next meeting's preparation has begun). */
  private async close(step: Step, meeting: Meeting, room: Room): Promise<void> {
    const { watch, clock, schedule, closer } = this.o;
    const now = clock.now();
    const policy = room.policy;
    const next = schedule.nextIn(room.id, meeting.end);
    if (next && now >= next.start - avLeadMinutes(policy, next.level) * MIN) {
      this.o.bus.emit('activity', { room: room.id, kind: 'close', name: 'close', result: 'ok', detail: `not closed: ${next.id} is being prepared`, meetingId: meeting.id, ts: now });
      return;
    }
    const vacancyMs = policy.vacancy_minutes * MIN;
    const vacant = watch.vacantFor(room.id, vacancyMs);
    // Sensors silent: fall back on the clock, an hour after the end (the lock is still refused while occupancy is unknown).
    const mayClose = vacant === true || (vacant === undefined && (watch.hasOccupancySensor(room.id) ? now >= meeting.end + 60 * MIN : now >= meeting.end + vacancyMs));
    if (!mayClose) return this.later(step, now + this.o.settings.closeRetryMs);
    await closer.close(room, ref(meeting), step.hvacAfter ?? 'off');
  }
}
