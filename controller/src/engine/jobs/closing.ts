import type { Room } from '../../config/load.ts';
import type { EventBus } from '../../model/bus.ts';
import type { Clock } from '../../model/clock.ts';
import type { CheckOutcome, CheckStatus } from '../../model/events.ts';
import type { PointValue } from '../../model/points.ts';
import type { RoomActions } from '../reconcile/actions.ts';
import type { StateReader } from '../readiness/checks.ts';
import type { WriteRequest } from '../reconcile/enforcement.ts';
import type { MeetingRef, ReadinessBook } from '../readiness/readiness-book.ts';
import type { RoomWatch } from '../readiness/room-watch.ts';
import { boilers, displays, doorContacts, doorLocks, freshAir, good, hvacUnits, lightZones, masterMutes, windowContacts } from '../intent/room-points.ts';

/**
 * Closing and energy (P7, P8): shutting a room down and proving it is shut.
 *
 * close (P7), once the meeting is over and the room vacant: microphones muted,
 * display off, lights off, fresh air off, HVAC set back (another meeting within the
 * policy horizon) or off — or left running when the next meeting's pre-conditioning has
 * already begun (`keep`: a long pre-start that opened at this one's end) — and the door
 * locked — only a closed door, and never while the room is occupied or a fire alarm is
 * active (the Enforcer refuses). Then the
 * room is checked: a light that stays on, a display that stays on, a door or window
 * left open each raise an alert for the room (not the meeting: it is over). A door
 * left open is locked as soon as it closes.
 *
 * end-of-day sweep (P8): every room not in use is switched off, closed and locked the
 * same way, and the report lists what was found on or open (each exception) and what
 * could not be put right; those raise alerts. The water boilers (switched on by the
 * P1 opening on purpose) are switched off without counting as an exception.
 */
export interface SweepReport {
  room: string;
  /** Points found on, open or unlocked, e.g. `lights.main.on`, `window.contact=open`. */
  leftOn: string[];
  /** Checks still failing after the sweep tried to put things right. */
  failed: string[];
  skipped?: string;
  ts: number;
}

export interface CloserOptions {
  actions: RoomActions;
  state: StateReader;
  watch: RoomWatch;
  book: ReadinessBook;
  bus: EventBus;
  clock: Clock;
}

type Want = { value: PointValue; label: string };

export class Closer {
  /** Rooms closed with the door open: locked when the door closes. */
  private pendingLocks = new Set<string>();

  constructor(private o: CloserOptions) {}

  /** P7: shuts the room down and checks it. Returns the check outcomes (room-scoped). */
  async close(room: Room, meeting: MeetingRef | undefined, hvacAfter: 'setback' | 'off' | 'keep', step = 'close'): Promise<CheckOutcome[]> {
    const { actions, clock } = this.o;
    const ctx = meeting ? { meetingId: meeting.id } : {};
    const now = clock.now();
    const writes: WriteRequest[] = [
      ...displays(room).map((p) => ({ set: p, value: false })),
      ...lightZones(room).map((z) => ({ set: z.on, value: false })),
      ...freshAir(room).map((p) => ({ set: p, value: false })),
      ...(hvacAfter === 'setback' ? actions.hvacSetbackWrites(room, now) : hvacAfter === 'off' ? actions.hvacOffWrites(room) : []),
    ];
    await Promise.all([actions.write(room, writes, ctx), actions.stopMicTest(room, ctx, true)]);
    await this.lockIfClosed(room, ctx);
    const outcomes = this.closedChecks(room, step, hvacAfter === 'off');
    actions.publishOutcomes(outcomes, undefined);
    if (meeting) this.o.book.record(meeting, outcomes, false);
    this.o.watch.setPhase(room.id, 'closed', meeting?.id);
    this.o.bus.emit('activity', { room: room.id, kind: 'close', name: step, result: outcomes.every((x) => x.status !== 'fail') ? 'ok' : 'partial', ...detail(outcomes), ...(meeting ? { meetingId: meeting.id } : {}), ts: clock.now() });
    return outcomes;
  }

  /** P8: the end-of-day sweep of one room. */
  async sweep(room: Room): Promise<SweepReport> {
    const { actions, state, clock } = this.o;
    const leftOn: string[] = [];
    const note = (points: string[], want: PointValue, label = (p: string, v: PointValue) => `${p}=${v}`) => {
      for (const p of points) {
        const v = good(state, room, p);
        if (v !== undefined && v !== want) leftOn.push(typeof v === 'boolean' ? (v ? p : `${p}=false`) : label(p, v));
      }
    };
    note(lightZones(room).map((z) => z.on), false);
    note(displays(room), false);
    note(hvacUnits(room).map((d) => `${d.name}.power`), false);
    note(freshAir(room), false);
    note(masterMutes(room), true);
    note(doorContacts(room), 'closed');
    note(windowContacts(room), 'closed');
    note(doorLocks(room), true);
    const writes: WriteRequest[] = [
      ...displays(room).map((p) => ({ set: p, value: false })),
      ...lightZones(room).map((z) => ({ set: z.on, value: false })),
      ...freshAir(room).map((p) => ({ set: p, value: false })),
      ...boilers(room).map((p) => ({ set: p, value: false })),
      ...actions.hvacOffWrites(room),
    ];
    await Promise.all([actions.write(room, writes, {}), actions.stopMicTest(room, {}, true)]);
    await this.lockIfClosed(room, {});
    const outcomes = this.closedChecks(room, 'end_of_day', true);
    actions.publishOutcomes(outcomes, undefined);
    this.o.watch.setPhase(room.id, 'closed');
    const report: SweepReport = { room: room.id, leftOn, failed: outcomes.filter((x) => x.status === 'fail').map((x) => x.check), ts: clock.now() };
    this.o.bus.emit('activity', {
      room: room.id,
      kind: 'routine',
      name: 'end_of_day',
      result: report.failed.length ? 'partial' : 'ok',
      ...(leftOn.length ? { detail: `left on/open: ${leftOn.join(', ')}${report.failed.length ? `; still failing: ${report.failed.join(', ')}` : ''}` } : {}),
      ts: report.ts,
    });
    return report;
  }

  /** A door that closes after its room was closed with it open gets locked now. */
  async doorClosed(room: Room): Promise<void> {
    if (!this.pendingLocks.has(room.id)) return;
    if (this.o.watch.vacantFor(room.id, 0) === false) return;
    await this.lockIfClosed(room, {});
    const outcomes = this.closedChecks(room, 'close', false).filter((x) => x.check === 'door_closed' || x.check === 'door_locked');
    this.o.actions.publishOutcomes(outcomes, undefined);
  }

  private async lockIfClosed(room: Room, ctx: { meetingId?: string }): Promise<void> {
    const locks = doorLocks(room);
    if (locks.length === 0) return;
    const open = doorContacts(room).some((p) => good(this.o.state, room, p) === 'open');
    if (open) {
      this.pendingLocks.add(room.id);
      return;
    }
    this.pendingLocks.delete(room.id);
    await this.o.actions.write(room, locks.map((p) => ({ set: p, value: true })), ctx);
  }

  /** Is everything off, closed and locked? A lock is judged only on a closed door (an open door cannot be locked). */
  closedChecks(room: Room, step: string, hvacMustBeOff: boolean): CheckOutcome[] {
    const ts = this.o.clock.now();
    const out: CheckOutcome[] = [];
    const add = (check: string, points: string[], want: Want) => {
      if (points.length === 0) return;
      out.push(this.pointCheck(room, check, points, want, step, ts));
    };
    add('lights_off', lightZones(room).map((z) => z.on), { value: false, label: 'every light off' });
    add('display_off', displays(room), { value: false, label: 'display off' });
    if (hvacMustBeOff) add('hvac_off', hvacUnits(room).map((d) => `${d.name}.power`), { value: false, label: 'HVAC off' });
    add('fresh_air_off', freshAir(room), { value: false, label: 'fresh air off' });
    add('door_closed', doorContacts(room), { value: 'closed', label: 'door closed' });
    add('window_closed', windowContacts(room), { value: 'closed', label: 'window closed' });
    const doorOpen = doorContacts(room).some((p) => good(this.o.state, room, p) === 'open');
    if (doorLocks(room).length > 0) {
      if (doorOpen) out.push({ room: room.id, check: 'door_locked', status: 'unknown', observed: 'door open', expected: 'door locked', step, ts });
      else add('door_locked', doorLocks(room), { value: true, label: 'door locked' });
    }
    return out;
  }

  private pointCheck(room: Room, check: string, points: string[], want: Want, step: string, ts: number): CheckOutcome {
    const items = points.map((p) => {
      const s = this.o.state.get(room.id, p);
      const status: CheckStatus = !s || s.quality !== 'good' || s.value === null ? 'unknown' : s.value === want.value ? 'pass' : 'fail';
      return { status, shown: status === 'unknown' ? `${p}: ${s?.quality ?? 'no point'}` : `${p}=${s!.value}` };
    });
    const status: CheckStatus = items.some((i) => i.status === 'fail') ? 'fail' : items.some((i) => i.status === 'unknown') ? 'unknown' : 'pass';
    const deciding = status === 'pass' ? items : items.filter((i) => i.status === status);
    return { room: room.id, check, status, observed: deciding.map((i) => i.shown), expected: want.label, step, ts };
  }
}

function detail(outcomes: CheckOutcome[]): { detail?: string } {
  const failing = outcomes.filter((x) => x.status === 'fail').map((x) => x.check);
  return failing.length ? { detail: `still failing: ${failing.join(', ')}` } : {};
}
