import type { Room, Site } from '../../config/load.ts';
import { silentLogger, type Logger } from '../../log.ts';
import type { EventBus } from '../../model/bus.ts';
import { every, type Clock } from '../../model/clock.ts';
import type { CheckOutcome, MeetingLevel } from '../../model/events.ts';
import { localDate, localWhen } from '../../model/local-time.ts';
import type { Meeting } from '../../model/meetings.ts';
import { seasonAt } from '../../model/season.ts';
import type { AlertBook } from '../alerts/alert-book.ts';
import { passReason } from '../alerts/alert-book.ts';
import { faultCheck } from '../alerts/device-flags.ts';
import { JOB_ONLY, roomIntent } from '../intent/intent.ts';
import { deviceOnline } from '../intent/room-points.ts';
import { comfortBand } from '../../model/season.ts';
import type { Schedule } from '../timeline/schedule.ts';
import { runChecks, STEP_CHECKS, type CheckName, type StateReader } from './checks.ts';
import { MicFindings, micUnverifiedWhy } from './mic-findings.ts';
import type { MeetingRef, ReadinessBook } from './readiness-book.ts';

/**
 * Readiness as a condition watched all the time, not a snapshot at T-15: whenever a
 * point or a device of a room changes (and every minute, for time windows), the checks
 * the room's current or next meeting depends on *now* are run again:
 *   - a meeting later today: every required device online (an FCU that fails at 11:40
 *     is alerted at 11:40, not at T-30 of the 14:00 meeting);
 *   - from the AV step (T-30, P2/P16) to the start: display, audio and fresh air on;
 *   - from the ready window (T-15, P4) to the start: every readiness check — a room that
 *     goes from ready to not ready is alerted at once, and the readiness record (and so
 *     the retained readiness topic) follows;
 *   - in session (P6): devices, temperature and CO2.
 * A failing check is alerted at once; one that cannot be verified (a stale, offline or
 * rejected reading) is alerted once it has stayed so for `unknownGraceMs`, naming the
 * point and since when. Every active alert of the room is re-run too, whatever the
 * window, so it is cleared exactly when its condition is true again, with the reason.
 * The microphone checks are the mic tests' own findings (jobs at T-30 and T-5): a mic
 * level exists only under test, so the watch does not run them on its own. A job's
 * finding that did not pass is followed up as a required check of its meeting until it
 * passes (mic-findings.ts): a mic that cannot be tested is alerted too, not only a failing one.
 */
export interface ReadinessWatchOptions {
  site: Site;
  state: StateReader;
  bus: EventBus;
  clock: Clock;
  schedule: Schedule;
  alerts: AlertBook;
  book: ReadinessBook;
  logger?: Logger;
  /** A reading that cannot be verified for this long is alerted. Default 90 s. */
  unknownGraceMs?: number;
  /** After the engine starts, devices get this long to answer before "offline" is a fault. Default 60 s. */
  startupGraceMs?: number;
  /** The room's readiness (record) changed: the retained topic is republished. */
  changed?: (room: string) => void;
  /** A meeting released as a no-show depends on nothing any more. */
  released?: (room: string, meetingId: string) => boolean;
}

const MIN = 60_000;
const TICK_MS = MIN;

export class ReadinessWatch {
  private rooms: Map<string, Room>;
  private dirty = new Set<string>();
  private flushQueued = false;
  private unknownSince = new Map<string, number>();
  private offlineSince = new Map<string, number>();
  private lastStatus = new Map<string, string>();
  private micFindings = new MicFindings();
  private off: (() => void)[] = [];
  private startedAt = 0;
  private log: Logger;

  constructor(private o: ReadinessWatchOptions) {
    this.rooms = new Map(o.site.rooms.map((r) => [r.id, r]));
    this.log = o.logger ?? silentLogger;
  }

  start(): void {
    const { bus, clock } = this.o;
    this.startedAt = clock.now();
    this.off.push(bus.on('point', (e) => this.mark(e.room)));
    this.off.push(
      bus.on('check', (o) => {
        if (!this.micFindings.note(o)) return;
        // The grace of a reading that cannot be verified runs from the job's finding.
        const k = `${o.room}\u0000${o.check}`;
        if (o.status === 'unknown' && !this.unknownSince.has(k)) this.unknownSince.set(k, o.ts);
        this.mark(o.room);
      }),
    );
    this.off.push(
      bus.on('device', (h) => {
        const k = `${h.room}\u0000${h.device}`;
        if (!h.online && !this.offlineSince.has(k)) this.offlineSince.set(k, h.ts);
        if (h.online) this.offlineSince.delete(k);
        this.mark(h.room);
      }),
    );
    this.off.push(every(clock, TICK_MS, () => this.evaluateAll()));
  }

  stop(): void {
    for (const u of this.off) u();
    this.off = [];
  }

  /** Runs every room now (after a restart, a booking, a step). */
  evaluateAll(): void {
    for (const id of this.rooms.keys()) this.evaluate(id);
  }

  private mark(room: string): void {
    if (!this.rooms.has(room)) return;
    this.dirty.add(room);
    if (this.flushQueued) return;
    this.flushQueued = true;
    // Coalesced: a Modbus poll updates a dozen points of a room at once.
    queueMicrotask(() => {
      this.flushQueued = false;
      const rooms = [...this.dirty];
      this.dirty.clear();
      for (const r of rooms) this.evaluate(r);
    });
  }

  /** The meeting a room's conditions are about: the one in session, else the next one today. */
  focus(roomId: string, now: number): Meeting | undefined {
    const tz = this.o.site.config.site.timezone;
    const today = localDate(now, tz);
    const list = this.o.schedule.inRoom(roomId, now, now + 24 * 3600_000);
    return list.find((m) => m.status === 'scheduled' && m.end > now && (m.start <= now || localDate(m.start, tz) === today));
  }

  private evaluate(roomId: string): void {
    try {
      this.evaluateRoom(roomId);
    } catch (err) {
      this.log.error({ err, room: roomId }, 'readiness watch: evaluation failed');
    }
  }

  private evaluateRoom(roomId: string): void {
    const room = this.rooms.get(roomId)!;
    const { clock, alerts, state } = this.o;
    const now = clock.now();
    const focused = this.focus(roomId, now);
    const m = focused && this.o.released?.(roomId, focused.id) ? undefined : focused;
    const required = new Set<CheckName>(m ? this.requiredNow(room, m, now) : []);
    const findings = this.micFindings.forMeeting(roomId, m?.id);
    for (const f of findings.held) required.add(f.check);
    for (const f of findings.dropped) this.unknownSince.delete(`${roomId}\u0000${f.check}`);

    const active = alerts.active(roomId).filter((a) => !a.check.startsWith('write:') && a.check in STEP_CHECKS_ALL);
    const names = new Set<CheckName>([...required, ...active.map((a) => a.check as CheckName)]);
    if (names.size === 0) return;
    const level: MeetingLevel | undefined = m?.level;
    const meeting = m ? { id: m.id, level: m.level } : undefined;
    const season = seasonAt(this.o.site.config.site, m?.start ?? now);
    const outcomes = runChecks([...names], { room, state, season, ...(meeting ? { meeting } : {}) }, { ts: now, step: 'watch' });
    const minutesToStart = m ? (m.start - now) / MIN : undefined;
    const inReadyWindow = m !== undefined && now >= m.start - room.policy.lead_minutes.ready * MIN && now < m.start;
    let changed = false;
    // One alert per fault: what an offline device leaves unverifiable is its devices_online alert, not more —
    // but a reading of a device that IS online going unverifiable (a sensor sending garbage) is a fault of its own.
    const down = new Set(room.devices.filter((d) => !deviceOnline(state, room, d.name)).map((d) => d.name));
    const onlyDownDevices = (o: CheckOutcome) => {
      const items = Array.isArray(o.observed) ? o.observed : [o.observed];
      return items.length > 0 && items.every((x) => typeof x === 'string' && down.has(x.split(/[.:]/)[0]!));
    };
    const onlyFaultAlerted = (o: CheckOutcome) => {
      const items = Array.isArray(o.observed) ? o.observed : [o.observed];
      return items.length > 0 && items.every((x) => typeof x === 'string' && / fault \(/.test(x) && alerts.isActive(roomId, faultCheck(x.split(':')[0]!)));
    };
    for (const o of outcomes) {
      const k = `${roomId}\u0000${o.check}`;
      if (this.lastStatus.get(k) !== o.status) {
        this.lastStatus.set(k, o.status);
        changed = true;
        this.o.bus.emit('check', o);
      }
      const isRequired = required.has(o.check as CheckName);
      if (o.status === 'pass') {
        this.unknownSince.delete(k);
        this.micFindings.resolve(roomId, o.check);
        alerts.clear(roomId, o.check, undefined, passReason(o));
        continue;
      }
      if (!isRequired) continue;
      if (o.status === 'fail') {
        this.unknownSince.delete(k);
        if (o.check === 'devices_online' && now - this.startedAt < (this.o.startupGraceMs ?? MIN)) continue;
        // A device failing only by its own fault flag already has its alert (alerts/device-flags.ts).
        if (o.check === 'devices_online' && onlyFaultAlerted(o)) continue;
        alerts.raise({ room: roomId, check: o.check, meetingId: m?.id, observed: o.observed, expected: o.expected, minutesToStart, message: this.failMessage(room, o, m, now) });
      } else {
        if (onlyDownDevices(o)) continue;
        const since = this.unknownSince.get(k) ?? now;
        this.unknownSince.set(k, since);
        if (now - since < (this.o.unknownGraceMs ?? 90_000)) continue;
        alerts.raise({
          room: roomId,
          check: o.check,
          meetingId: m?.id,
          observed: o.observed,
          expected: o.expected,
          minutesToStart,
          message: `${roomId}: ${o.check} cannot be verified since ${this.at(since)} (${shown(o)})${isMicCheck(o.check) ? micUnverifiedWhy(room, o) : ''}${this.ahead(m, now)}`,
        });
      }
    }
    if (m && inReadyWindow) this.o.book.record(ref(m), outcomes.filter((o) => required.has(o.check as CheckName)), false);
    if (changed && m && level) this.o.changed?.(roomId);
  }

  /** The checks a meeting depends on at this instant (the room's intent). */
  private requiredNow(room: Room, m: Meeting, now: number): CheckName[] {
    const season = seasonAt(this.o.site.config.site, m.start);
    return roomIntent({ room, meeting: m, done: this.o.schedule.stepsDone(m.id), now, season, band: comfortBand(room.policy, season), today: true }).checks;
  }

  private failMessage(room: Room, o: CheckOutcome, m: Meeting | undefined, now: number): string {
    if (o.check === 'devices_online') {
      const down = room.devices.filter((d) => d.required && this.offlineSince.has(`${room.id}\u0000${d.name}`));
      const named = down.map((d) => `${d.name} (${d.profile.id}) offline since ${this.at(this.offlineSince.get(`${room.id}\u0000${d.name}`)!)}`);
      if (named.length) return `${room.id}: ${named.join('; ')}${this.ahead(m, now)}`;
    }
    return `${room.id}: ${o.check} failed: ${shown(o)}, expected ${o.expected ?? '?'}${this.ahead(m, now)}`;
  }

  private ahead(m: Meeting | undefined, now: number): string {
    if (!m) return '';
    if (m.start <= now) return `; meeting ${m.id} in session since ${this.at(m.start)}`;
    return `; meeting ${m.id} at ${this.at(m.start)} (in ${Math.round((m.start - now) / MIN)} min) depends on it`;
  }

  private at(ts: number): string {
    // `09:52` for today; a device offline since yesterday reads `2026-12-02 17:40 +08:00`.
    return localWhen(ts, this.o.clock.now(), this.o.site.config.site.timezone);
  }
}

const isMicCheck = (check: string) => JOB_ONLY.has(check as CheckName);

const STEP_CHECKS_ALL: Record<string, true> = Object.fromEntries([...new Set(Object.values(STEP_CHECKS).flat())].map((c) => [c, true]));

const ref = (m: Meeting): MeetingRef => ({ id: m.id, room: m.room, level: m.level, start: m.start, end: m.end });

function shown(o: CheckOutcome): string {
  return o.observed === undefined || o.observed === null ? 'nothing' : Array.isArray(o.observed) ? o.observed.join(', ') : String(o.observed);
}
