import { ErrorCode, RoomctlError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../log.ts';
import type { Clock } from '../../model/clock.ts';
import { readScheduleFile, writeScheduleFile } from './schedule-file.ts';
import { localSpan, localStamp } from '../../model/local-time.ts';
import { checkTimes, overlaps, parseMeetingInput, type Meeting, type MeetingRequest } from '../../model/meetings.ts';

/**
 * The booked meetings of a site: added, moved and cancelled at any time, one booking
 * per room at a time, kept across restarts.
 *
 * Persistence: one JSON file written atomically (atomic-file.ts: temp + fsync + rename,
 * previous good copy kept as .bak) on every change, before the change is announced.
 * Why not an embedded database: a site has hundreds to a few thousand live meetings,
 * a whole-file rewrite of that is well under a millisecond of I/O per booking, the file
 * stays readable and repairable by an engineer, and it needs no native module (Node 20
 * has no built-in SQLite). Bulk imports (a calendar feed poll) use batch() for one write.
 */
export type ScheduleChange =
  | { kind: 'added'; meeting: Meeting }
  | { kind: 'updated'; meeting: Meeting; previous: Meeting }
  | { kind: 'moved'; meeting: Meeting; previous: Meeting }
  | { kind: 'cancelled'; meeting: Meeting };

export type UpsertResult = { meeting: Meeting; change: ScheduleChange['kind'] | 'unchanged' };

export interface ScheduleOptions {
  clock: Clock;
  /** Room ids a booking may name; absent = any. */
  rooms?: Iterable<string>;
  /** The JSON file; absent = memory only (benches, tests of other features). */
  file?: string;
  /** Meetings that ended (or were cancelled) longer ago than this are dropped on load. */
  retentionDays?: number;
  /** The site's time zone: error messages show times local, with the offset (default UTC). */
  timeZone?: string;
  logger?: Logger;
}

export interface ScheduleLoad {
  meetings: number;
  source: 'file' | 'backup' | 'none';
  /** File-level problems (corrupt, truncated, used the backup). */
  problems: string[];
  /** Entries skipped, each with why (bad fields, overlap). */
  skipped: string[];
}

export class Schedule {
  private byId = new Map<string, Meeting>();
  /** Scheduled (not cancelled) meetings per room, sorted by start; they never overlap. */
  private byRoom = new Map<string, Meeting[]>();
  private done = new Map<string, Set<string>>();
  private listeners = new Set<(change: ScheduleChange) => void>();
  private rooms?: Set<string>;
  private log: Logger;
  private batchDepth = 0;
  private pendingEvents: ScheduleChange[] = [];
  private undo: (() => void)[] = [];
  private dirty = false;

  constructor(private options: ScheduleOptions) {
    if (options.rooms) this.rooms = new Set(options.rooms);
    this.log = options.logger ?? silentLogger;
  }

  /** Reads the file (or its backup). Call once before use; problems are returned and logged. */
  load(): ScheduleLoad {
    const report: ScheduleLoad = { meetings: 0, source: 'none', problems: [], skipped: [] };
    if (!this.options.file) return report;
    const read = readScheduleFile(this.options.file, () => this.options.clock.now());
    report.source = read.source;
    report.problems.push(...read.problems);
    report.skipped.push(...read.invalid);
    const cutoff = this.options.clock.now() - (this.options.retentionDays ?? 30) * 86_400_000;
    for (const { meeting, stepsDone, index } of read.entries) {
      if (meeting.end < cutoff) continue;
      if (this.byId.has(meeting.id)) {
        report.skipped.push(`meetings[${index}]: duplicate id ${meeting.id}`);
        continue;
      }
      if (meeting.status === 'scheduled') {
        const clash = this.conflict(meeting.room, meeting.start, meeting.end, meeting.id);
        if (clash) {
          report.skipped.push(`meetings[${index}]: ${meeting.id} overlaps ${clash.id} in room ${meeting.room}`);
          continue;
        }
        this.index(meeting);
      }
      this.byId.set(meeting.id, meeting);
      if (stepsDone.length) this.done.set(meeting.id, new Set(stepsDone));
      report.meetings++;
    }
    // A schedule recovered from its backup is written back at once, so the good copy is
    // the main file again and the next write rotates a good file into .bak.
    if (read.source === 'backup') {
      try {
        this.save();
      } catch (err) {
        report.problems.push(`${this.options.file}: could not write the recovered schedule back (${(err as Error).message})`);
      }
    }
    for (const p of report.problems) this.log.warn({ file: this.options.file }, `schedule: ${p}`);
    for (const s of report.skipped) this.log.warn({ file: this.options.file }, `schedule: skipped ${s}`);
    return report;
  }

  onChange(fn: (change: ScheduleChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Adds or changes a booking by its external id. Input is validated by parseMeetingInput
   * (API body, calendar feed entry, or a MeetingRequest). A re-sent identical booking (a
   * calendar feed poll) is `unchanged`: no write, no event. Throws RoomctlError 5xxx.
   */
  upsert(input: unknown): UpsertResult {
    const req = parseMeetingInput(input, this.options.timeZone);
    const now = this.options.clock.now();
    const existing = this.byId.get(req.id);
    const live = existing?.status === 'scheduled' ? existing : undefined;
    if (live && sameBooking(live, req)) return { meeting: live, change: 'unchanged' };
    if (this.rooms && !this.rooms.has(req.room))
      throw new RoomctlError(ErrorCode.MeetingRoomUnknown, `meeting ${req.id}: unknown room "${req.room}"`, { room: req.room });
    const timesChanged = !live || live.room !== req.room || live.start !== req.start || live.end !== req.end;
    if (timesChanged) this.checkSlot(req.id, req.room, req.start, req.end, now);
    const meeting: Meeting = {
      ...req,
      status: 'scheduled',
      plannedAt: timesChanged ? now : live!.plannedAt,
      updatedAt: now,
    };
    const change: ScheduleChange = !live ? { kind: 'added', meeting } : timesChanged ? { kind: 'moved', meeting, previous: live } : { kind: 'updated', meeting, previous: live };
    this.commit(() => this.replace(existing, meeting, timesChanged), change);
    return { meeting, change: change.kind };
  }

  /** Moves a booking to new times (and optionally another room); its steps are re-planned. */
  move(id: string, start: number, end: number, room?: string): Meeting {
    const live = this.requireLive(id);
    return this.upsert({ ...toInput(live), start, end, room: room ?? live.room }).meeting;
  }

  /** Cancels a booking; idempotent. The record is kept (status cancelled) for reports. */
  cancel(id: string): Meeting {
    const existing = this.byId.get(id);
    if (!existing) throw new RoomctlError(ErrorCode.MeetingUnknown, `no meeting with id "${id}"`, { id });
    if (existing.status === 'cancelled') return existing;
    const meeting: Meeting = { ...existing, status: 'cancelled', updatedAt: this.options.clock.now() };
    this.commit(() => this.replace(existing, meeting, true), { kind: 'cancelled', meeting });
    return meeting;
  }

  /** Runs many changes with a single file write at the end; events follow that write. */
  batch<T>(fn: () => T): T {
    this.batchDepth++;
    try {
      return fn();
    } finally {
      if (--this.batchDepth === 0) this.flush();
    }
  }

  get(id: string): Meeting | undefined {
    return this.byId.get(id);
  }

  /** Scheduled meetings (not cancelled), every room, by start. */
  meetings(): Meeting[] {
    return [...this.byRoom.values()].flat().sort((a, b) => a.start - b.start);
  }

  /** Scheduled meetings of a room that overlap [from, to), by start. */
  inRoom(room: string, from = -Infinity, to = Infinity): Meeting[] {
    return (this.byRoom.get(room) ?? []).filter((m) => m.end > from && m.start < to);
  }

  /** The last scheduled meeting in the room ending at or before `time`. */
  previousIn(room: string, time: number): Meeting | undefined {
    const list = this.byRoom.get(room) ?? [];
    const i = firstStartAtOrAfter(list, time) - 1;
    for (let j = i; j >= 0; j--) if (list[j]!.end <= time) return list[j];
    return undefined;
  }

  /** The first scheduled meeting in the room starting at or after `time`. */
  nextIn(room: string, time: number): Meeting | undefined {
    const list = this.byRoom.get(room) ?? [];
    return list[firstStartAtOrAfter(list, time)];
  }

  /** Timeline steps already carried out for a meeting (persisted: a restart does not repeat them). */
  stepsDone(id: string): ReadonlySet<string> {
    return this.done.get(id) ?? EMPTY;
  }

  markStepDone(id: string, step: string): void {
    if (!this.byId.has(id) || this.stepsDone(id).has(step)) return;
    let set = this.done.get(id);
    if (!set) this.done.set(id, (set = new Set()));
    set.add(step);
    this.dirty = true;
    if (this.batchDepth === 0) this.flush();
  }

  private requireLive(id: string): Meeting {
    const m = this.byId.get(id);
    if (!m || m.status !== 'scheduled') throw new RoomctlError(ErrorCode.MeetingUnknown, `no scheduled meeting with id "${id}"`, { id });
    return m;
  }

  private checkSlot(id: string, room: string, start: number, end: number, now: number): void {
    const tz = this.options.timeZone ?? 'UTC';
    checkTimes(id, start, end, tz);
    if (end <= now) throw new RoomctlError(ErrorCode.MeetingInPast, `meeting ${id} ends ${localStamp(end, tz)}, which is already past`, { id, end });
    const clash = this.conflict(room, start, end, id);
    if (clash)
      throw new RoomctlError(
        ErrorCode.MeetingOverlap,
        `meeting ${id} (${localSpan(start, end, tz)}) overlaps meeting ${clash.id} (${localSpan(clash.start, clash.end, tz)}) in room ${room}`,
        { id, room, conflictsWith: clash.id },
      );
  }

  /** The booking in `room` overlapping [start, end), other than `exceptId`. Bookings never overlap, so only the latest one starting before `end` can. */
  private conflict(room: string, start: number, end: number, exceptId: string): Meeting | undefined {
    const list = this.byRoom.get(room) ?? [];
    for (let i = firstStartAtOrAfter(list, end) - 1; i >= 0; i--) {
      const m = list[i]!;
      if (m.id === exceptId) continue;
      return overlaps(m, { start, end }) ? m : undefined;
    }
    return undefined;
  }

  /** Swaps a meeting record in memory and registers how to undo it if the write fails. */
  private replace(old: Meeting | undefined, next: Meeting, resetSteps: boolean): void {
    const oldSteps = this.done.get(next.id);
    if (old?.status === 'scheduled') this.unindex(old);
    if (next.status === 'scheduled') this.index(next);
    this.byId.set(next.id, next);
    if (resetSteps) this.done.delete(next.id);
    if (!this.options.file) return; // nothing to write, nothing to undo
    this.undo.push(() => {
      if (next.status === 'scheduled') this.unindex(next);
      if (old) {
        this.byId.set(old.id, old);
        if (old.status === 'scheduled') this.index(old);
      } else this.byId.delete(next.id);
      if (oldSteps) this.done.set(next.id, oldSteps);
    });
  }

  private commit(apply: () => void, change: ScheduleChange): void {
    apply();
    this.dirty = true;
    this.pendingEvents.push(change);
    if (this.batchDepth === 0) this.flush();
  }

  /** Writes, then announces. If the write fails, the changes are undone and the caller gets the error. */
  private flush(): void {
    if (this.dirty) {
      try {
        this.save();
      } catch (err) {
        for (const u of this.undo.reverse()) u();
        this.undo = [];
        this.pendingEvents = [];
        this.dirty = false;
        throw new RoomctlError(ErrorCode.ScheduleWriteFailed, `schedule not saved, change undone: ${(err as Error).message}`, { file: this.options.file });
      }
    }
    this.undo = [];
    this.dirty = false;
    const events = this.pendingEvents;
    this.pendingEvents = [];
    for (const e of events)
      for (const fn of this.listeners) {
        try {
          fn(e);
        } catch (err) {
          this.log.error({ err, meeting: e.meeting.id }, 'schedule: a change listener failed');
        }
      }
  }

  private save(): void {
    if (!this.options.file) return;
    writeScheduleFile(this.options.file, this.byId.values(), (id) => this.stepsDone(id));
  }

  private index(m: Meeting): void {
    let list = this.byRoom.get(m.room);
    if (!list) this.byRoom.set(m.room, (list = []));
    list.splice(firstStartAtOrAfter(list, m.start), 0, m);
  }

  private unindex(m: Meeting): void {
    const list = this.byRoom.get(m.room);
    if (!list) return;
    const i = list.findIndex((x) => x.id === m.id);
    if (i >= 0) list.splice(i, 1);
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** Binary search: index of the first meeting whose start is >= time. */
function firstStartAtOrAfter(list: Meeting[], time: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.start < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sameBooking(m: Meeting, r: MeetingRequest): boolean {
  return m.room === r.room && m.start === r.start && m.end === r.end && m.level === r.level && m.attendees === r.attendees && m.title === r.title && m.organizer === r.organizer;
}

function toInput(m: Meeting): Record<string, unknown> {
  const out: Record<string, unknown> = { id: m.id, room: m.room, start: m.start, end: m.end, level: m.level, attendees: m.attendees };
  if (m.title !== undefined) out.title = m.title;
  if (m.organizer !== undefined) out.organizer = m.organizer;
  return out;
}
