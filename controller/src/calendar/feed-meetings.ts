import { createHash } from 'node:crypto';
import { isRoomctlError, ErrorCode } from '../errors.ts';
import type { Meeting, MeetingLevel } from '../model/meetings.ts';
import type { UpsertResult } from '../engine/timeline/schedule.ts';
import type { FeedInstance } from './ics.ts';

/**
 * A feed's instances → the room's bookings. Meetings a feed owns carry its tag in
 * their id, `cal:<room>:<UID>[:<instance start, UTC>]`: the feed upserts and cancels
 * only those, so a meeting booked through the API in the same room is never touched,
 * and ownership survives a restart with the schedule file. The instance part is the
 * RECURRENCE-ID (the slot's original start), so a moved instance stays one meeting.
 */
export interface LevelRule {
  /** CATEGORIES value (any case) → level. */
  categories: Record<string, MeetingLevel>;
  /** X- property carrying a level (or a categories key). */
  property?: string;
}

export const DEFAULT_LEVEL_RULE: LevelRule = { categories: { VIP1: 'vip1', VIP2: 'vip2', VIP3: 'vip3' }, property: 'X-ROOMCTL-LEVEL' };

const RANK: Record<MeetingLevel, number> = { normal: 0, vip3: 1, vip2: 2, vip1: 3 };
const LEVELS = new Set<string>(Object.keys(RANK));

/** The schedule operations a feed needs (engine/schedule.ts Schedule). */
export interface FeedSchedule {
  upsert(input: unknown): UpsertResult;
  cancel(id: string): Meeting;
  inRoom(room: string, from?: number, to?: number): Meeting[];
  batch<T>(fn: () => T): T;
}

export interface SyncSummary {
  added: number;
  updated: number;
  moved: number;
  cancelled: number;
  unchanged: number;
  /** Instances the schedule refused (overlap, too long…): id and why, never a title (P15). */
  skipped: string[];
}

export const feedPrefix = (room: string) => `cal:${room}:`;

/** UIDs are opaque and can be long (Exchange's are ~110 hex digits): a long one is hashed so the id stays under the schedule's 200 characters. */
export function feedMeetingId(room: string, uid: string, recurrenceId?: number): string {
  const safeUid = uid.replace(/[\u0000-\u001f\u007f]/g, '');
  const part = safeUid.length <= 120 ? safeUid : `h${createHash('sha256').update(safeUid).digest('hex').slice(0, 40)}`;
  const instance = recurrenceId === undefined ? '' : `:${new Date(recurrenceId).toISOString().replace(/[-:]|\.\d{3}/g, '')}`;
  return `${feedPrefix(room)}${part}${instance}`;
}

export function levelOf(instance: FeedInstance, rule: LevelRule): MeetingLevel {
  const byKey = new Map(Object.entries(rule.categories).map(([k, v]) => [k.trim().toLowerCase(), v]));
  const named = instance.levelProperty?.trim().toLowerCase();
  if (named) {
    if (LEVELS.has(named)) return named as MeetingLevel;
    const mapped = byKey.get(named);
    if (mapped) return mapped;
  }
  let best: MeetingLevel = 'normal';
  for (const c of instance.categories) {
    const level = byKey.get(c.toLowerCase());
    if (level && RANK[level] > RANK[best]) best = level;
  }
  return best;
}

/** The schedule input for one instance. */
export function meetingInput(room: string, instance: FeedInstance, rule: LevelRule): Record<string, unknown> {
  const input: Record<string, unknown> = {
    id: feedMeetingId(room, instance.uid, instance.recurrenceId),
    room,
    start: instance.start,
    end: instance.end,
    level: levelOf(instance, rule),
    attendees: Math.min(instance.attendees ?? 0, 100_000),
  };
  if (instance.title !== undefined) input.title = instance.title;
  if (instance.organizer !== undefined) input.organizer = instance.organizer;
  return input;
}

/**
 * Makes the room's feed-owned meetings match the feed within [now, windowEnd): new
 * and changed instances upserted, owned meetings no longer in the feed cancelled
 * (cancelled events, deleted instances, deleted series). Meetings already over are
 * left alone. One schedule write for the whole poll (batch). Bookings refused by the
 * schedule are reported in `skipped` and retried on the next poll.
 */
export function syncRoom(schedule: FeedSchedule, room: string, instances: FeedInstance[], rule: LevelRule, now: number, windowEnd: number): SyncSummary {
  const summary: SyncSummary = { added: 0, updated: 0, moved: 0, cancelled: 0, unchanged: 0, skipped: [] };
  const wanted = new Map<string, Record<string, unknown>>();
  for (const inst of instances) {
    if (inst.end <= now || inst.start >= windowEnd) continue;
    const input = meetingInput(room, inst, rule);
    wanted.set(input.id as string, input);
  }
  const prefix = feedPrefix(room);
  schedule.batch(() => {
    // Cancellations first: a moved or replaced instance may need the slot they free.
    for (const m of schedule.inRoom(room, now, windowEnd)) {
      if (!m.id.startsWith(prefix) || wanted.has(m.id)) continue;
      schedule.cancel(m.id);
      summary.cancelled++;
    }
    let pending = [...wanted.values()].sort((a, b) => (a.start as number) - (b.start as number));
    // Two passes: an overlap on the first may clear once a later instance has moved away.
    for (let pass = 0; pass < 2 && pending.length > 0; pass++) {
      const retry: Record<string, unknown>[] = [];
      for (const input of pending) {
        try {
          const { change } = schedule.upsert(input);
          summary[change === 'cancelled' ? 'cancelled' : change]++;
        } catch (err) {
          if (pass === 0 && isRoomctlError(err, ErrorCode.MeetingOverlap)) retry.push(input);
          else summary.skipped.push(`${input.id as string}: ${(err as Error).message}`);
        }
      }
      pending = retry;
    }
  });
  return summary;
}
