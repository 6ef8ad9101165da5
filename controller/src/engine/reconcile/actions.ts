import type { Room, Site } from '../../config/load.ts';
import type { Logger } from '../../log.ts';
import type { EventBus } from '../../model/bus.ts';
import type { Clock } from '../../model/clock.ts';
import type { CheckOutcome } from '../../model/events.ts';
import { comfortBand, seasonAt } from '../../model/season.ts';
import type { AlertBook } from '../alerts/alert-book.ts';
import { runChecks, type CheckName, type CheckSet, type StateReader } from '../readiness/checks.ts';
import type { WriteContext, WriteOutcome, WriteRequest } from './enforcement.ts';
import type { Reconciler } from './reconciler.ts';
import type { ReadinessBook, MeetingRef } from '../readiness/readiness-book.ts';
import { deviceOf, good, hvacUnits, masterMutes, mics } from '../intent/room-points.ts';
import type { Waits } from '../timeline/waits.ts';

/**
 * The building blocks every procedure is made of: proven writes (grouped per device,
 * devices in parallel, a device that is offline left alone), check runs (each outcome
 * on the bus, in the readiness records and through the alert book), the microphone
 * test (P2/P3), and HVAC commands within the profile limits (P5/P7).
 */
export interface ActionsOptions {
  site: Site;
  state: StateReader;
  bus: EventBus;
  clock: Clock;
  /** Every write of a procedure is a desired value the reconciler keeps (level-triggered). */
  reconciler: Reconciler;
  alerts: AlertBook;
  book: ReadinessBook;
  waits: Waits;
  log: Logger;
  /** How long a mic test waits for every channel to report a level. */
  micTestWaitMs: number;
}

const MIN = 60_000;

export class RoomActions {
  constructor(private o: ActionsOptions) {}

  /** The comfort band for a room at an instant (P5, season of the site calendar). */
  band(room: Room, ts: number): [number, number] {
    return comfortBand(room.policy, seasonAt(this.o.site.config.site, ts));
  }

  /**
   * Makes each request the point's desired value (the reconciler keeps it so: a device
   * offline now is written when it returns, a failed write is retried) and resolves
   * with each point's first outcome. Requests for one device go in order; devices in
   * parallel (a projector warming up does not hold up the microphones).
   */
  async write(room: Room, requests: WriteRequest[], ctx: WriteContext = {}): Promise<WriteOutcome[]> {
    const groups = new Map<string, WriteRequest[]>();
    for (const r of requests) {
      const device = deviceOf(room, r.set)?.name ?? '?';
      const list = groups.get(device) ?? [];
      list.push(r);
      groups.set(device, list);
    }
    const done = await Promise.all(
      [...groups.values()].map(async (g) => {
        const out: WriteOutcome[] = [];
        for (const r of g) out.push(...(await this.o.reconciler.want(room.id, [r], ctx)));
        return out;
      }),
    );
    this.o.waits.check();
    const out = done.flat();
    for (const w of out.filter((x) => !x.confirmed)) this.o.log.debug({ room: room.id, point: w.point, reason: w.reason }, 'write not confirmed yet; the reconciler keeps it wanted');
    return out;
  }

  /**
   * Runs a set of checks for a meeting (or for the room alone): every outcome goes on
   * the bus, into the readiness records, and through the alert book — raised once on
   * fail, cleared once on pass, left alone when unknown.
   */
  check(room: Room, set: CheckSet | CheckName[], meeting: MeetingRef | undefined, step: string, full = false): CheckOutcome[] {
    const now = this.o.clock.now();
    const season = seasonAt(this.o.site.config.site, meeting?.start ?? now);
    const outcomes = runChecks(set, { room, state: this.o.state, season, ...(meeting ? { meeting: { id: meeting.id, level: meeting.level } } : {}) }, { ts: now, step });
    this.publishOutcomes(outcomes, meeting, full);
    return outcomes;
  }

  /** Outcomes made by a procedure itself (close, sweep): bus, records, alerts. */
  publishOutcomes(outcomes: CheckOutcome[], meeting: MeetingRef | undefined, full = false): void {
    for (const o of outcomes) this.o.bus.emit('check', o);
    if (meeting) this.o.book.record(meeting, outcomes, full);
    this.o.alerts.reconcile(outcomes, meeting ? (meeting.start - this.o.clock.now()) / MIN : undefined);
  }

  /** P2/P3: master unmuted, every mic unmuted with its test running. Returns when the writes are proven. */
  async startMicTest(room: Room, ctx: WriteContext): Promise<number> {
    const started = this.o.clock.now();
    const writes: WriteRequest[] = masterMutes(room).map((p) => ({ set: p, value: false }));
    for (const m of mics(room)) {
      if (m.mute) writes.push({ set: m.mute, value: false });
      if (m.test) writes.push({ set: m.test, value: true });
    }
    await this.write(room, writes, ctx);
    return started;
  }

  /** Waits until every mic under test has reported a level since `since` (or the wait runs out). */
  async waitForMicLevels(room: Room, since: number): Promise<void> {
    const channels = mics(room);
    const fresh = () => channels.every((m) => {
      const s = this.o.state.get(room.id, m.level);
      return s?.quality === 'good' && s.ts >= since;
    });
    await this.o.waits.until(fresh, this.o.micTestWaitMs, 5000);
  }

  /** Ends the test tone; `mute` also mutes every channel and the master (room closing). */
  async stopMicTest(room: Room, ctx: WriteContext, mute: boolean): Promise<void> {
    const writes: WriteRequest[] = [];
    for (const m of mics(room)) {
      if (m.test && good(this.o.state, room, m.test) !== false) writes.push({ set: m.test, value: false });
      if (mute && m.mute) writes.push({ set: m.mute, value: true });
    }
    if (mute) for (const p of masterMutes(room)) writes.push({ set: p, value: true });
    await this.write(room, writes, ctx);
  }

  /** P5: every unit on, in the mode for the direction, at the setpoint (clamped to the profile's safe limits by the writer). */
  hvacOnWrites(room: Room, setpoint: number, direction: 'heat' | 'cool' | 'hold', now: number): WriteRequest[] {
    const season = seasonAt(this.o.site.config.site, now);
    const mode = direction !== 'hold' ? direction : season === 'summer' ? 'cool' : season === 'winter' ? 'heat' : 'auto';
    // A unit without a mode point (heat/cool set at the plant) gets power and setpoint only.
    return hvacUnits(room).flatMap((d) => [
      { set: `${d.name}.power`, value: true },
      ...(d.points.some((p) => p.id === `${d.name}.mode`) ? [{ set: `${d.name}.mode`, value: mode }] : []),
      { set: `${d.name}.setpoint`, value: setpoint },
    ]);
  }

  /** P7: turned down slightly — the setpoint moved out of the band's middle by setback_c, away from the season's load. */
  hvacSetbackWrites(room: Room, now: number): WriteRequest[] {
    const [lo, hi] = this.band(room, now);
    const season = seasonAt(this.o.site.config.site, now);
    const setpoint = season === 'winter' ? lo - room.policy.setback_c : hi + room.policy.setback_c;
    return hvacUnits(room).map((d) => ({ set: `${d.name}.setpoint`, value: Math.round(setpoint * 10) / 10 }));
  }

  hvacOffWrites(room: Room): WriteRequest[] {
    return hvacUnits(room).map((d) => ({ set: `${d.name}.power`, value: false }));
  }

  /** Is any HVAC unit of the room reported on? */
  hvacRunning(room: Room): boolean {
    return hvacUnits(room).some((d) => good(this.o.state, room, `${d.name}.power`) === true);
  }
}
