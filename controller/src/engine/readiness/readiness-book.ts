import { z } from 'zod';
import { silentLogger, type Logger } from '../../log.ts';
import type { Clock } from '../../model/clock.ts';
import type { CheckOutcome, CheckStatus, MeetingLevel, MeetingVerdict } from '../../model/events.ts';
import type { PointValue } from '../../model/points.ts';
import { readJsonWithBackup, writeJsonAtomic } from '../timeline/atomic-file.ts';

/**
 * The readiness records (issue item 7): per meeting and check, what each check saw and
 * when; per meeting the verdict — ready at the readiness check (T-15, P4)? at the start?
 * how many minutes before the start did every check first pass, how late was the
 * booking (P13)? Kept for the API (history by room and time), and in a file beside the
 * schedule so a restart neither loses the morning's records nor forgets that the T-15
 * check already failed when the verdict is made at the start.
 *
 * P15: a record holds the meeting's id, room, level and times — never its title or
 * organizer; nothing here ever sees them (callers pass a PublicMeeting-shaped object).
 */
export interface MeetingRef {
  id: string;
  room: string;
  level: MeetingLevel;
  start: number;
  end: number;
}

/** One outcome of one check, as recorded: a new entry only when the status or what was seen changes. */
export interface CheckEntry {
  step?: string;
  status: CheckStatus;
  observed?: PointValue | PointValue[] | null;
  expected?: string;
  ts: number;
  /** How many consecutive runs gave this same outcome. */
  runs: number;
}

export interface MeetingRecord {
  meeting: MeetingRef;
  /** Per check name, its outcomes over time (changes only, oldest first). */
  checks: Record<string, CheckEntry[]>;
  /** The readiness step's result (T-15, P4). */
  readyCheck?: { ts: number; ready: boolean; failing: string[] };
  /** When every check of a full check run first passed. */
  firstReadyAt?: number;
  verdict?: MeetingVerdict;
}

const MAX_ENTRIES_PER_CHECK = 50;

const storedFile = z.object({ version: z.literal(1), meetings: z.array(z.unknown()) });
const storedRecord = z.object({
  meeting: z.object({ id: z.string(), room: z.string(), level: z.enum(['normal', 'vip3', 'vip2', 'vip1']), start: z.number(), end: z.number() }),
  checks: z.record(z.string(), z.array(z.any())),
  readyCheck: z.object({ ts: z.number(), ready: z.boolean(), failing: z.array(z.string()) }).optional(),
  firstReadyAt: z.number().optional(),
  verdict: z.any().optional(),
});

export interface ReadinessBookOptions {
  clock: Clock;
  file?: string;
  /** Records of meetings that ended longer ago are dropped. Default 30 days. */
  retentionDays?: number;
  logger?: Logger;
}

/** Every check passed (an unknown one is not a pass). */
export const allPass = (outcomes: readonly CheckOutcome[]) => outcomes.length > 0 && outcomes.every((o) => o.status === 'pass');
export const notPassing = (outcomes: readonly CheckOutcome[]) => outcomes.filter((o) => o.status !== 'pass').map((o) => o.check);

export class ReadinessBook {
  private records = new Map<string, MeetingRecord>();
  private log: Logger;
  private dirty = false;
  private prunedAt = -Infinity;

  constructor(private options: ReadinessBookOptions) {
    this.log = options.logger ?? silentLogger;
  }

  load(): string[] {
    if (!this.options.file) return [];
    const read = readJsonWithBackup(this.options.file, (json) => storedFile.parse(json), () => this.options.clock.now());
    const problems = [...read.problems];
    (read.value?.meetings ?? []).forEach((raw, i) => {
      const r = storedRecord.safeParse(raw);
      if (r.success) this.records.set(r.data.meeting.id, r.data as MeetingRecord);
      else problems.push(`meetings[${i}]: not a readiness record, skipped`);
    });
    this.prune();
    for (const p of problems) this.log.warn({ file: this.options.file }, `readiness: ${p}`);
    return problems;
  }

  /** Adds a check run for a meeting. `full`: a run of every required check (ready, session start, re-checks). */
  record(meeting: MeetingRef, outcomes: readonly CheckOutcome[], full: boolean): void {
    const rec = this.entry(meeting);
    for (const o of outcomes) {
      const list = (rec.checks[o.check] ??= []);
      const last = list.at(-1);
      if (last && last.status === o.status && JSON.stringify(last.observed) === JSON.stringify(o.observed)) {
        last.runs++;
        continue;
      }
      const entry: CheckEntry = { status: o.status, ts: o.ts, runs: 1 };
      if (o.step !== undefined) entry.step = o.step;
      if (o.observed !== undefined) entry.observed = o.observed;
      if (o.expected !== undefined) entry.expected = o.expected;
      list.push(entry);
      if (list.length > MAX_ENTRIES_PER_CHECK) list.splice(1, 1); // keep the first outcome, drop the oldest after it
    }
    const ts = outcomes[0]?.ts ?? this.options.clock.now();
    if (full && allPass(outcomes) && rec.firstReadyAt === undefined && ts <= meeting.start) rec.firstReadyAt = ts;
    this.changed();
  }

  /** The readiness step's result (T-15, P4). */
  noteReadyCheck(meeting: MeetingRef, outcomes: readonly CheckOutcome[], ts: number): void {
    this.entry(meeting).readyCheck = { ts, ready: allPass(outcomes), failing: notPassing(outcomes) };
    this.changed();
  }

  /** The verdict at the start: the start's own full check run decides readyAtStart and failingChecks. */
  verdictAtStart(meeting: MeetingRef, atStart: readonly CheckOutcome[], extra: { minutesLate: number; minutesInBandBeforeStart: number | null; hvacMinutes: number }, ts: number): MeetingVerdict {
    const rec = this.entry(meeting);
    const verdict: MeetingVerdict = {
      room: meeting.room,
      meetingId: meeting.id,
      level: meeting.level,
      start: meeting.start,
      end: meeting.end,
      readyAtReadyCheck: rec.readyCheck?.ready ?? false,
      readyAtStart: allPass(atStart),
      minutesReadyBeforeStart: rec.firstReadyAt === undefined ? null : round1((meeting.start - rec.firstReadyAt) / 60_000),
      minutesLate: extra.minutesLate,
      minutesInBandBeforeStart: extra.minutesInBandBeforeStart,
      hvacMinutes: extra.hvacMinutes,
      failingChecks: notPassing(atStart),
      noShow: false,
      ts,
    };
    rec.verdict = verdict;
    this.changed();
    return { ...verdict };
  }

  /** Updates a verdict (no-show, final HVAC minutes at the end); undefined if the meeting has none yet. */
  updateVerdict(meetingId: string, patch: Partial<Pick<MeetingVerdict, 'noShow' | 'hvacMinutes' | 'minutesInBandBeforeStart'>>, ts: number): MeetingVerdict | undefined {
    const rec = this.records.get(meetingId);
    if (!rec?.verdict) return undefined;
    Object.assign(rec.verdict, patch, { ts });
    this.changed();
    return { ...rec.verdict };
  }

  verdict(meetingId: string): MeetingVerdict | undefined {
    const v = this.records.get(meetingId)?.verdict;
    return v && { ...v };
  }

  meeting(meetingId: string): MeetingRecord | undefined {
    const r = this.records.get(meetingId);
    return r && structuredClone(r);
  }

  /** Verdicts by start time, optionally of one room and within [from, to). */
  verdicts(filter: { room?: string; from?: number; to?: number } = {}): MeetingVerdict[] {
    return this.select(filter).flatMap((r) => (r.verdict ? [{ ...r.verdict }] : []));
  }

  /** Full records (every check's history) by start time, optionally of one room and within [from, to). */
  history(filter: { room?: string; from?: number; to?: number } = {}): MeetingRecord[] {
    return this.select(filter).map((r) => structuredClone(r));
  }

  /** Writes pending changes (the engine calls it after each step, so one step is one write). */
  flush(): void {
    // Old records go at most once an hour of clock time (a long-running controller keeps a bounded book).
    const now = this.options.clock.now();
    if (now - this.prunedAt >= 3600_000) {
      this.prunedAt = now;
      this.prune();
    }
    if (!this.dirty || !this.options.file) return;
    this.dirty = false;
    try {
      writeJsonAtomic(this.options.file, { version: 1, meetings: [...this.records.values()] });
    } catch (err) {
      this.log.error({ err, file: this.options.file }, 'readiness: could not save the records');
    }
  }

  private select(filter: { room?: string; from?: number; to?: number }): MeetingRecord[] {
    return [...this.records.values()]
      .filter((r) => (filter.room === undefined || r.meeting.room === filter.room) && r.meeting.start >= (filter.from ?? -Infinity) && r.meeting.start < (filter.to ?? Infinity))
      .sort((a, b) => a.meeting.start - b.meeting.start);
  }

  private entry(meeting: MeetingRef): MeetingRecord {
    let rec = this.records.get(meeting.id);
    // Only the public fields are copied: whatever else the caller's object holds stays out (P15).
    const ref: MeetingRef = { id: meeting.id, room: meeting.room, level: meeting.level, start: meeting.start, end: meeting.end };
    if (!rec) this.records.set(meeting.id, (rec = { meeting: ref, checks: {} }));
    else rec.meeting = ref;
    return rec;
  }

  private changed(): void {
    this.dirty = true;
  }

  private prune(): void {
    const cutoff = this.options.clock.now() - (this.options.retentionDays ?? 30) * 86_400_000;
    for (const [id, r] of this.records)
      if (r.meeting.end < cutoff) {
        this.records.delete(id);
        this.dirty = true;
      }
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;
