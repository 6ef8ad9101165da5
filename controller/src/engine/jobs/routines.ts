import type { Room, Site } from '../../config/load.ts';
import type { Logger } from '../../log.ts';
import type { EventBus } from '../../model/bus.ts';
import type { Clock } from '../../model/clock.ts';
import type { RoomActions } from '../reconcile/actions.ts';
import type { Closer, SweepReport } from './closing.ts';
import type { StateReader } from '../readiness/checks.ts';
import type { DueQueue } from '../timeline/due-queue.ts';
import { boilers, doorLocks, lightZones } from '../intent/room-points.ts';
import { QUIET_PHASES, type RoomWatch } from '../readiness/room-watch.ts';
import type { Schedule } from '../timeline/schedule.ts';
import { equipmentTest, type EquipmentTestResult } from './self-test.ts';
import { avLeadMinutes } from '../intent/steps.ts';

/**
 * The site's daily and weekly routines, at configured times in the site's time zone
 * (site.routines), on the one routine queue the engine keeps (a key per occurrence):
 *   P1 opening (working days, default 08:00): doors unlocked, lights to a low "open"
 *      level, water boilers on — a room already being prepared keeps its lights;
 *   P8 end-of-day sweep (working days, default 18:30): closing.ts sweep, every room
 *      not in use, each exception reported;
 *   P9 weekly equipment self-test (default Saturday 10:00): self-test.ts in every room
 *      with no meeting within an hour (plus its AV lead); a room in use is tried again an hour later.
 * Plus the rule for lights switched on in a closed room with no meeting: off after
 * the policy's lights_grace_minutes.
 */
export type RoutineTask = () => Promise<void> | void;

export const OPENING_LIGHT_LEVEL = 30;
const MIN = 60_000;
const SELFTEST_CLEARANCE_MS = 3600_000;

export interface RoutinesOptions {
  site: Site;
  rooms: Map<string, Room>;
  actions: RoomActions;
  closer: Closer;
  watch: RoomWatch;
  schedule: Schedule;
  state: StateReader;
  queue: DueQueue<RoutineTask>;
  bus: EventBus;
  clock: Clock;
  log: Logger;
}

export class Routines {
  /** Last end-of-day report per room, and last self-test per room (for the API and sim run). */
  readonly sweeps = new Map<string, SweepReport>();
  readonly selfTests = new Map<string, EquipmentTestResult>();

  constructor(private o: RoutinesOptions) {}

  /** Plans the next occurrence of every routine. */
  start(): void {
    const r = this.o.site.config.site.routines;
    this.plan('opening', r.opening, this.workingDays(), () => this.opening());
    this.plan('end_of_day', r.end_of_day, this.workingDays(), async () => void (await this.endOfDay()));
    this.plan('selftest', r.weekly_selftest.time, [r.weekly_selftest.day], () => this.weeklySelfTest());
  }

  /** P1: open every room for the day. */
  async opening(): Promise<void> {
    await Promise.all(
      [...this.o.rooms.values()].map(async (room) => {
        // A room whose AV preparation has begun keeps its lights; HVAC running early for a later meeting does not count.
        const busy = this.inUse(room, this.o.clock.now(), 0, false) || ['ready', 'not_ready'].includes(this.o.watch.phase(room.id));
        const zones = lightZones(room);
        const lights = busy || zones.length === 0 ? [] : [{ set: zones[0]!.on, value: true }, ...(zones[0]!.level ? [{ set: zones[0]!.level, value: OPENING_LIGHT_LEVEL }] : [])];
        const writes = [...doorLocks(room).map((p) => ({ set: p, value: false })), ...lights, ...boilers(room).map((p) => ({ set: p, value: true }))];
        const out = await this.o.actions.write(room, writes);
        if (!busy) this.o.watch.setPhase(room.id, 'open');
        const failed = out.filter((w) => !w.confirmed).map((w) => w.point);
        this.o.bus.emit('activity', { room: room.id, kind: 'routine', name: 'opening', result: failed.length === 0 ? 'ok' : failed.length < out.length ? 'partial' : 'failed', ...(failed.length ? { detail: `not confirmed: ${failed.join(', ')}` } : {}), ts: this.o.clock.now() });
      }),
    );
  }

  /** P8: sweep every room that is not in use. */
  async endOfDay(): Promise<SweepReport[]> {
    const now = this.o.clock.now();
    const reports = await Promise.all(
      [...this.o.rooms.values()].map(async (room) => {
        if (this.inUse(room, now, 0)) {
          const skipped: SweepReport = { room: room.id, leftOn: [], failed: [], skipped: 'a meeting is in progress or being prepared', ts: now };
          this.sweeps.set(room.id, skipped);
          return skipped;
        }
        const report = await this.o.closer.sweep(room);
        this.sweeps.set(room.id, report);
        return report;
      }),
    );
    const exceptions = reports.filter((r) => r.leftOn.length > 0 || r.failed.length > 0);
    this.o.log.info({ rooms: reports.length, exceptions: exceptions.map((r) => ({ room: r.room, leftOn: r.leftOn, failed: r.failed })) }, 'end-of-day sweep done (P8)');
    return reports;
  }

  /** P9: the weekly self-test of every room outside meeting hours. */
  async weeklySelfTest(): Promise<void> {
    await Promise.all([...this.o.rooms.values()].map((room) => this.selfTestRoom(room)));
  }

  /** Lights on in a quiet room: off after the grace, if it is still quiet then. */
  lightsOn(roomId: string): void {
    const room = this.o.rooms.get(roomId);
    if (!room) return;
    const key = `lights:${roomId}`;
    if (this.o.queue.has(key)) return;
    this.o.queue.schedule(key, this.o.clock.now() + room.policy.lights_grace_minutes * MIN, async () => {
      if (!QUIET_PHASES.has(this.o.watch.phase(roomId)) || this.inUse(room, this.o.clock.now(), 0)) return;
      const on = lightZones(room).filter((z) => this.o.state.get(roomId, z.on)?.quality === 'good' && this.o.state.get(roomId, z.on)?.value === true);
      if (on.length === 0) return; // switched off meanwhile (or it was a self-test's own light)
      const out = await this.o.actions.write(room, on.map((z) => ({ set: z.on, value: false })));
      this.o.bus.emit('activity', { room: roomId, kind: 'release', name: 'lights_grace', result: out.every((w) => w.confirmed) ? 'ok' : 'partial', detail: `lights on in a closed room for ${room.policy.lights_grace_minutes} min: switched off`, ts: this.o.clock.now() });
    });
  }

  private async selfTestRoom(room: Room): Promise<void> {
    const now = this.o.clock.now();
    if (this.inUse(room, now, SELFTEST_CLEARANCE_MS, false)) {
      this.o.queue.schedule(`selftest-retry:${room.id}`, now + 60 * MIN, () => this.selfTestRoom(room));
      return;
    }
    const result = await equipmentTest(this.o.actions, room, undefined, { step: 'weekly_selftest', restore: true, now: () => this.o.clock.now() });
    this.selfTests.set(room.id, result);
    this.o.bus.emit('activity', { room: room.id, kind: 'self_test', name: 'weekly', result: result.ok ? 'ok' : 'failed', ...(result.ok ? {} : { detail: `failing: ${result.outcomes.filter((x) => x.status !== 'pass').map((x) => x.check).join(', ')}` }), ts: result.ts });
  }

  /**
   * In use: a meeting in session, a meeting whose AV preparation begins within `aheadMs`,
   * or (`byPhase`) a room the engine is preparing — its HVAC may already be running for a
   * meeting hours away, which a self-test does not disturb but a sweep must not undo.
   */
  private inUse(room: Room, now: number, aheadMs: number, byPhase = true): boolean {
    const phase = this.o.watch.phase(room.id);
    if (phase === 'in_session' || (byPhase && (phase === 'preparing' || phase === 'ready' || phase === 'not_ready'))) return true;
    const maxLead = Math.max(room.policy.lead_minutes.av, room.policy.lead_minutes.vip3) * MIN;
    return this.o.schedule.inRoom(room.id, now - 1, now + aheadMs + maxLead).some((m) => m.start <= now || m.start - avLeadMinutes(room.policy, m.level) * MIN <= now + aheadMs);
  }

  private workingDays(): number[] {
    return this.o.site.config.site.working_days;
  }

  /** Queues the next occurrence of a routine; when it runs, the one after is queued. */
  private plan(name: string, hhmm: string, weekdays: number[], task: RoutineTask, from = this.o.clock.now()): void {
    const tz = this.o.site.config.site.timezone;
    const at = nextOccurrence(from, hhmm, weekdays, tz);
    if (at === undefined) return;
    this.o.queue.schedule(`${name}@${at}`, at, async () => {
      this.plan(name, hhmm, weekdays, task, at + 1);
      try {
        await task();
      } catch (err) {
        this.o.log.error({ err, routine: name }, 'routine failed');
        throw err;
      }
    });
  }
}

/** The first instant at or after `now` that is `hhmm` local time on one of the ISO weekdays (1 = Monday). */
export function nextOccurrence(now: number, hhmm: string, weekdays: number[], timeZone: string): number | undefined {
  if (weekdays.length === 0) return undefined;
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  const today = localDate(now, timeZone);
  for (let i = 0; i <= 7; i++) {
    const d = new Date(Date.UTC(today.y, today.m - 1, today.d + i));
    const weekday = d.getUTCDay() === 0 ? 7 : d.getUTCDay();
    if (!weekdays.includes(weekday)) continue;
    const at = zonedEpoch(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), h, m, timeZone);
    if (at >= now) return at;
  }
  return undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function parts(ts: number, timeZone: string): Record<string, number> {
  let f = formatters.get(timeZone);
  if (!f) formatters.set(timeZone, (f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })));
  const out: Record<string, number> = {};
  for (const p of f.formatToParts(ts)) if (p.type !== 'literal') out[p.type] = Number(p.value);
  return out;
}

export function localDate(ts: number, timeZone: string): { y: number; m: number; d: number } {
  const p = parts(ts, timeZone);
  return { y: p.year!, m: p.month!, d: p.day! };
}

/** Epoch ms of a local wall-clock time (two passes settle the offset across a DST change). */
export function zonedEpoch(y: number, m: number, d: number, hour: number, minute: number, timeZone: string): number {
  const wall = Date.UTC(y, m - 1, d, hour, minute);
  const offset = (ts: number) => {
    const p = parts(ts, timeZone);
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour! % 24, p.minute!, p.second!) - Math.floor(ts / 1000) * 1000;
  };
  const first = wall - offset(wall);
  return wall - offset(first);
}
